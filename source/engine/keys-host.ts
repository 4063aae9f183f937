import type { Target } from '../config/load.js';
import { DeployError, describeError } from '../errors.js';
import { hostNow } from '../host/host-clock.js';
import type { Transport } from '../remote/transport.js';
import { type ApiKey, expired, newKeyId, newSecret, parseKeysFile, renderKeysFile } from './keys-file.js';
import { hostCommand } from './nginx.js';

/**
 * The keys file on the host: read, changed, and put in front of nginx. A change is written
 * atomically (mode 600), checked with nginx.test and loaded with nginx.reload, whose graceful
 * reload lets requests in flight finish on the old workers: a key added is accepted, and a key
 * kept through its overlap goes on being accepted, without a refused request in between. If
 * nginx refuses the file, the previous one is put back.
 */

export type KeysTarget = Pick<Target, 'name' | 'path'> & {
  readonly nginx: Pick<Target['nginx'], 'upstream' | 'upstreamFile' | 'test' | 'reload' | 'timeoutSeconds' | 'auth'>;
};

export type HostKeys = {
  readonly keys: readonly ApiKey[];
  /** The file as it is, to put back if nginx refuses a change; null when there is none yet. */
  readonly text: string | null;
  /** Host epoch seconds at the read. */
  readonly now: number;
  readonly nowIso: string;
};

export function keysFileOf(target: KeysTarget): string {
  if (target.nginx.auth === null) {
    throw new DeployError('config', 'API keys are off for this config.', {
      hint: 'Set "auth": { "apiKeys": true } in the config (docs/config.md#auth), then deploy: nginx starts asking for keys.',
    });
  }
  return target.nginx.auth.keysFile;
}

export async function readHostKeys(transport: Transport, target: KeysTarget): Promise<HostKeys> {
  const path = keysFileOf(target);
  const [buffer, clock] = await Promise.all([transport.readFile(path), hostNow(transport)]);
  const text = buffer === null ? null : buffer.toString('utf8');
  let keys: ApiKey[];
  try {
    keys = text === null ? [] : parseKeysFile(text);
  } catch (error) {
    throw new DeployError('host-state', `${path} on ${transport.label} is not as mcp-deploy wrote it: ${describeError(error)}.`, {
      hint: 'Keys are changed with mcp-deploy keys add|rotate|revoke; put the file back as it was, or remove it and add the keys again.',
    });
  }
  return { keys, text, now: clock.epochSeconds, nowIso: clock.iso };
}

/**
 * Holds `<keys file>.lock` (a directory, made atomically) around a read-change-write of the keys,
 * so a `keys add` and a deploy's keys step at the same moment cannot lose each other's change. It
 * is held for one change (milliseconds), so a lock older than a minute is a killed run's, and taken over.
 */
export async function withKeysLock<T>(transport: Transport, target: KeysTarget, body: () => Promise<T>): Promise<T> {
  const lock = `${keysFileOf(target)}.lock`;
  const taken = await transport.run(
    {
      script:
        '[ -d "$(dirname "$l")" ] || exit 8; i=0; while ! mkdir "$l" 2>/dev/null; do if [ -n "$(find "$l" -maxdepth 0 -mmin +1 2>/dev/null)" ]; then rmdir "$l" 2>/dev/null; continue; fi; i=$((i+1)); [ "$i" -ge 100 ] && exit 9; sleep 0.1; done',
    },
    { env: { l: lock }, timeoutMs: 30_000 },
  );
  if (taken.code === 8) {
    throw new DeployError('host-state', `The deploy root ${target.path} does not exist on ${transport.label}.`, {
      hint: 'Run mcp-deploy setup first: it lays out the deploy root (and the keys file, with auth.apiKeys).',
    });
  }
  if (taken.code !== 0) {
    throw new DeployError('host-state', `Another run is changing the API keys on ${transport.label} (${lock} is held).`, {
      hint: 'Try again in a moment; a lock left by a killed run is taken over after a minute.',
    });
  }
  try {
    return await body();
  } finally {
    await transport.run(['rmdir', lock], { timeoutMs: 15_000 }).catch(() => {});
  }
}

/**
 * What a write did: `loaded` when nginx reloaded with it; `not-read` when nginx's include does not
 * read it yet (no deploy since auth.apiKeys), or when the caller asked for no reload (setup, before the site exists).
 */
export type KeysWrite = 'loaded' | 'not-read';

export async function writeHostKeys(
  transport: Transport,
  target: KeysTarget,
  app: string,
  keys: readonly ApiKey[],
  before: string | null,
  log: (line: string) => void = () => {},
  options: { readonly load?: boolean } = {},
): Promise<KeysWrite> {
  const path = keysFileOf(target);
  await transport.writeFileAtomic(path, renderKeysFile(app, target.nginx.upstream, keys), 0o600);
  if (options.load === false) return 'not-read';
  const include = await transport.readFile(target.nginx.upstreamFile);
  if (include === null || !include.toString('utf8').includes(`include "${path}";`)) return 'not-read';
  const timeoutMs = target.nginx.timeoutSeconds * 1000;
  const putBack = async () => {
    if (before !== null) await transport.writeFileAtomic(path, before, 0o600).catch(() => {});
  };
  const test = await transport.run(hostCommand(target.nginx.test), { timeoutMs }).catch((error: unknown) => error as Error);
  if (test instanceof Error || test.code !== 0) {
    await putBack();
    throw new DeployError(
      'deploy',
      `nginx refused the new keys file (${test instanceof Error ? describeError(test) : test.stderr.trim()})`,
      {
        hint: `The previous keys were put back. Run ${JSON.stringify(target.nginx.test)} on the host to see why.`,
      },
    );
  }
  const reload = await transport.run(hostCommand(target.nginx.reload), { timeoutMs }).catch((error: unknown) => error as Error);
  if (reload instanceof Error || reload.code !== 0) {
    await putBack();
    await transport.run(hostCommand(target.nginx.reload), { timeoutMs }).catch(() => {});
    throw new DeployError(
      'deploy',
      `nginx did not reload with the new keys (${reload instanceof Error ? describeError(reload) : reload.stderr.trim()})`,
      {
        hint: 'The previous keys were put back. mcp-deploy doctor checks the reload command and its sudo rights.',
      },
    );
  }
  log('nginx reloaded with the keys');
  return 'loaded';
}

/**
 * What every run that touches the keys does first: drop the keys whose overlap is over, and give
 * mcp-deploy a probe key of its own when it has none. Returns the keys to keep and whether they
 * changed (and so need writing).
 */
export function settleKeys(current: HostKeys): { readonly keys: ApiKey[]; readonly dropped: ApiKey[]; readonly changed: boolean } {
  const dropped = expired(current.keys, current.now);
  const keys = current.keys.filter((key) => !dropped.includes(key));
  let changed = dropped.length > 0;
  if (!keys.some((key) => key.kind === 'probe')) {
    keys.push({
      id: newKeyId(keys),
      secret: newSecret(),
      label: "mcp-deploy's own (verify, status)",
      kind: 'probe',
      created: current.nowIso,
      expires: null,
    });
    changed = true;
  }
  return { keys, dropped, changed };
}

/** The header verify and status send through the public URL: the probe key. */
export function probeHeaders(keys: readonly ApiKey[]): Record<string, string> {
  const probe = keys.find((key) => key.kind === 'probe');
  return probe === undefined ? {} : { authorization: `Bearer ${probe.secret}` };
}

const known = new WeakMap<Transport, Promise<Record<string, string>>>();

/**
 * The headers for requests through the public URL on this connection: the probe key when nginx
 * asks for keys, nothing otherwise. Read once per connection (the keys step sets it when it
 * writes the file); a host without the file yet sends none.
 */
export function edgeHeaders(transport: Transport, target: KeysTarget): Promise<Record<string, string>> {
  if (target.nginx.auth === null) return Promise.resolve({});
  let headers = known.get(transport);
  if (headers === undefined) {
    headers = readHostKeys(transport, target).then(
      (current) => probeHeaders(current.keys),
      () => ({}),
    );
    known.set(transport, headers);
  }
  return headers;
}

export function rememberEdgeHeaders(transport: Transport, keys: readonly ApiKey[]): void {
  known.set(transport, Promise.resolve(probeHeaders(keys)));
}
