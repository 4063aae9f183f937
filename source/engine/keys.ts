import { DeployError } from '../errors.js';
import { appendAudit } from '../host/audit.js';
import { hostLayout } from '../host/layout.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';
import { type ApiKey, fingerprint, newKeyId, newSecret } from './keys-file.js';
import { waitForKeyChange } from './keys-edge-check.js';
import { type KeysWrite, readHostKeys, settleKeys, withKeysLock, writeHostKeys } from './keys-host.js';

/**
 * `mcp-deploy keys add|list|revoke|rotate`. Every one first settles the file (keys past their
 * overlap dropped, the probe key made if missing), so "dropped at the next run" holds for these
 * runs too. A new key's secret is returned once, to be printed once; nothing else returned here
 * (and nothing in the audit log) carries a secret: only ids and fingerprints.
 */

export type KeysContext = Pick<EngineContext, 'config' | 'target' | 'operator' | 'localHost'>;

/** A key as it may be shown: everything but the secret. */
export type KeyView = Omit<ApiKey, 'secret'> & { readonly fingerprint: string; readonly expiresIso: string | null };

export type KeysOutcome = {
  readonly keys: readonly KeyView[];
  /** Keys dropped by this run because their overlap was over. */
  readonly dropped: readonly string[];
  /** Whether nginx reloaded with the change, or will read the file only after the next deploy. */
  readonly write: KeysWrite | 'unchanged';
};

export async function listKeys(context: KeysContext, transport: Transport): Promise<KeysOutcome> {
  return change(context, transport, 'list', (keys) => ({ keys }));
}

export async function addKey(
  context: KeysContext,
  transport: Transport,
  label: string,
): Promise<KeysOutcome & { readonly created: KeyView; readonly secret: string }> {
  let made: ApiKey | undefined;
  const outcome = await change(context, transport, 'add', (keys, now) => {
    made = clientKey(keys, label, now.iso);
    return { keys: [...keys, made], message: `added ${made.id}${label ? ` (${label})` : ''}` };
  });
  return { ...outcome, created: view(made!), secret: made!.secret };
}

export async function revokeKey(context: KeysContext, transport: Transport, id: string): Promise<KeysOutcome> {
  return change(context, transport, 'revoke', (keys) => {
    const key = find(keys, id);
    return { keys: keys.filter((other) => other !== key), message: `revoked ${key.id}` };
  });
}

/** A new key beside `id`, which stays accepted for `overlapSeconds` and is dropped by the first run after that. */
export async function rotateKey(
  context: KeysContext,
  transport: Transport,
  id: string,
  overlapSeconds: number,
): Promise<KeysOutcome & { readonly created: KeyView; readonly secret: string; readonly retiring: KeyView }> {
  let made: ApiKey | undefined;
  let retiring: ApiKey | undefined;
  const outcome = await change(context, transport, 'rotate', (keys, now) => {
    const old = find(keys, id);
    if (old.kind === 'probe') {
      throw new DeployError('usage', `${old.id} is mcp-deploy's own probe key.`, {
        hint: `Revoke it instead (mcp-deploy keys revoke ${old.id}): the next run makes a new one.`,
      });
    }
    const until = now.epochSeconds + overlapSeconds;
    retiring = { ...old, expires: old.expires === null ? until : Math.min(old.expires, until) };
    made = clientKey(keys, old.label, now.iso);
    return {
      keys: [...keys.map((key) => (key === old ? retiring! : key)), made],
      message: `rotated ${old.id} to ${made.id}; ${old.id} accepted until ${isoOf(retiring.expires)}`,
    };
  });
  return { ...outcome, created: view(made!), secret: made!.secret, retiring: view(retiring!) };
}

type Change = (
  keys: readonly ApiKey[],
  now: { readonly epochSeconds: number; readonly iso: string },
) => { readonly keys: readonly ApiKey[]; readonly message?: string };

async function change(context: KeysContext, transport: Transport, what: string, apply: Change): Promise<KeysOutcome> {
  return withKeysLock(transport, context.target, () => changeLocked(context, transport, what, apply));
}

async function changeLocked(context: KeysContext, transport: Transport, what: string, apply: Change): Promise<KeysOutcome> {
  const { config, target } = context;
  const current = await readHostKeys(transport, target);
  const settled = settleKeys(current);
  const next = apply(settled.keys, { epochSeconds: current.now, iso: current.nowIso });
  const changed = settled.changed || next.message !== undefined;
  const write = changed ? await writeHostKeys(transport, target, config.app, next.keys, current.text) : 'unchanged';
  if (write === 'loaded') await waitForKeyChange(target.publicUrl, config.health.mcp?.path ?? '/mcp', current.keys, next.keys);
  const dropped = settled.dropped.map((key) => key.id);
  const notes = [next.message, dropped.length > 0 ? `dropped ${dropped.join(', ')} (overlap over)` : undefined].filter(Boolean);
  if (notes.length > 0) {
    await appendAudit(transport, hostLayout(target.path), {
      at: current.nowIso,
      operator: context.operator,
      localHost: context.localHost,
      target: target.name,
      operation: 'keys',
      from: null,
      to: null,
      result: 'ok',
      steps: [],
      message: `${what}: ${notes.join('; ')}`,
    });
  }
  return { keys: next.keys.map(view), dropped, write };
}

function clientKey(keys: readonly ApiKey[], label: string, createdIso: string): ApiKey {
  return { id: newKeyId(keys), secret: newSecret(), label, kind: 'client', created: createdIso, expires: null };
}

function find(keys: readonly ApiKey[], id: string): ApiKey {
  const key = keys.find((candidate) => candidate.id === id);
  if (key === undefined) {
    throw new DeployError('usage', `No key ${JSON.stringify(id)} on this host.`, {
      hint: `mcp-deploy keys list shows the keys${keys.length > 0 ? ` (${keys.map((other) => other.id).join(', ')})` : ''}.`,
    });
  }
  return key;
}

function view(key: ApiKey): KeyView {
  const { secret, ...rest } = key;
  return { ...rest, fingerprint: fingerprint(secret), expiresIso: isoOf(key.expires) };
}

function isoOf(epochSeconds: number | null): string | null {
  return epochSeconds === null ? null : new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
