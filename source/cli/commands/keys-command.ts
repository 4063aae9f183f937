import { DeployError } from '../../errors.js';
import { type KeysOutcome, type KeyView, addKey, listKeys, revokeKey, rotateKey } from '../../engine/keys.js';
import { parseOverlap } from '../../engine/keys-file.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

/**
 * `mcp-deploy keys add|list|revoke|rotate`. A new key is printed once, by the command that made
 * it (on stdout, alone on its line, so a script can capture it); every other line names keys by
 * id and fingerprint only.
 */

export async function keysAddCommand(options: GlobalOptions & { readonly label?: string }, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const outcome = await addKey(context, transport, options.label ?? '');
    if (output.json) output.document({ target: context.target.name, created: outcome.created, key: outcome.secret, keys: outcome.keys });
    else {
      output.line(
        `${output.paint.green('✔')} Made ${outcome.created.id}${options.label ? ` (${options.label})` : ''}. The key, shown this once:`,
      );
      output.data(`${outcome.secret}\n`);
      output.line(`Clients send it as: Authorization: Bearer <key>. ${effect(outcome)}`);
    }
    return 0;
  });
}

export async function keysListCommand(options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const outcome = await listKeys(context, transport);
    if (output.json) output.document({ target: context.target.name, keys: outcome.keys, dropped: outcome.dropped });
    else {
      for (const line of table(outcome.keys)) output.line(line);
      if (outcome.dropped.length > 0) output.line(`Dropped (overlap over): ${outcome.dropped.join(', ')}. ${effect(outcome)}`);
    }
    return 0;
  });
}

export async function keysRevokeCommand(id: string, options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const outcome = await revokeKey(context, transport, id);
    if (output.json) output.document({ target: context.target.name, revoked: id, keys: outcome.keys });
    else output.line(`${output.paint.green('✔')} Revoked ${id}. ${effect(outcome)}`);
    return 0;
  });
}

export async function keysRotateCommand(
  id: string,
  options: GlobalOptions & { readonly overlap: string },
  output: Output,
): Promise<number> {
  const overlap = parseOverlap(options.overlap);
  if (overlap === null) {
    throw new DeployError('usage', `--overlap ${JSON.stringify(options.overlap)} is not a time span.`, {
      hint: 'Give a number with s, m, h or d: --overlap 24h.',
    });
  }
  return withHost(options, output, async (context, transport) => {
    const outcome = await rotateKey(context, transport, id, overlap);
    if (output.json) {
      output.document({
        target: context.target.name,
        created: outcome.created,
        key: outcome.secret,
        retiring: outcome.retiring,
        keys: outcome.keys,
      });
    } else {
      output.line(`${output.paint.green('✔')} Made ${outcome.created.id} to replace ${id}. The new key, shown this once:`);
      output.data(`${outcome.secret}\n`);
      output.line(
        `${id} stays accepted until ${outcome.retiring.expiresIso} (host time); the first run after that drops it. Move clients to the new key meanwhile. ${effect(outcome)}`,
      );
    }
    return 0;
  });
}

function effect(outcome: KeysOutcome): string {
  if (outcome.write === 'loaded') return 'nginx has reloaded with it.';
  if (outcome.write === 'not-read') return 'nginx does not read the keys file yet: the next deploy writes the include that does.';
  return '';
}

function table(keys: readonly KeyView[]): string[] {
  if (keys.length === 0) return ['No keys.'];
  const rows = keys.map((key) => [
    key.id,
    key.kind === 'probe' ? "(mcp-deploy's probe)" : key.label || '-',
    key.created,
    key.expiresIso === null ? 'no end' : `until ${key.expiresIso}`,
    key.fingerprint,
  ]);
  const header = ['id', 'label', 'made', 'accepted', 'fingerprint'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  return [header, ...rows].map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd(),
  );
}
