import { createHash, randomBytes } from 'node:crypto';
import { apiKeyVariable } from './nginx-auth.js';

/**
 * The host's API keys (auth.apiKeys), as one file that is both nginx's and ours: the `map` nginx
 * reads to accept a request's `Authorization: Bearer` value, and one comment line per key with
 * what `keys list` shows (id, label, when it was made, when it stops being accepted, a short
 * fingerprint). It is written with mode 600 and nowhere else: nothing else mcp-deploy writes, and
 * nothing it prints after a key's creation, holds a key.
 */

export type KeyKind = 'client' | 'probe';

export type ApiKey = {
  /** Short and public: what `keys list`, `revoke` and the audit log name a key by. */
  readonly id: string;
  /** The secret itself. */
  readonly secret: string;
  readonly label: string;
  /** `probe`: mcp-deploy's own, sent by verify through the public URL; `client`: an operator's. */
  readonly kind: KeyKind;
  /** Host time, ISO. */
  readonly created: string;
  /** Host epoch seconds after which the key is dropped at the next run (a rotated key's overlap); null: no end. */
  readonly expires: number | null;
};

const marker = '# mcp-deploy key ';
/** Lowercase hex only: nginx's map compares without regard to case (nginx-auth.ts). */
/**
 * 128 bits in 32 hex digits: "Bearer mcpk_<32>" is 44 bytes, the longest string nginx's map fits
 * in one slot of its default map_hash_bucket_size (64), which a site may not be able to raise.
 */
const secretShape = /^mcpk_[0-9a-f]{32}$/;
const idShape = /^key-[0-9a-z]{6}$/;

export function newSecret(): string {
  return `mcpk_${randomBytes(16).toString('hex')}`;
}

export function newKeyId(taken: readonly ApiKey[]): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  for (;;) {
    const id = `key-${[...randomBytes(6)].map((byte) => alphabet[byte % alphabet.length]).join('')}`;
    if (!taken.some((key) => key.id === id)) return id;
  }
}

/** What may be shown of a key: the start of its sha256, enough to tell keys apart, useless to an attacker. */
export function fingerprint(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('hex').slice(0, 12)}`;
}

export function renderKeysFile(app: string, upstream: string, keys: readonly ApiKey[]): string {
  return [
    `# Written by mcp-deploy for "${app}": the API keys nginx accepts (auth.apiKeys). Mode 600.`,
    '# Change it with mcp-deploy keys add|rotate|revoke; deploys drop the keys whose overlap is over.',
    ...keys.map(
      (key) =>
        `${marker}${JSON.stringify({ id: key.id, label: key.label, kind: key.kind, created: key.created, expires: key.expires, fingerprint: fingerprint(key.secret) })}`,
    ),
    `map $http_authorization ${apiKeyVariable(upstream)} {`,
    '    default "";',
    ...keys.map((key) => `    "Bearer ${key.secret}" ${key.id};`),
    '}',
    '',
  ].join('\n');
}

/**
 * The keys a file holds: each map line with its comment line. A line of the map that does not
 * have our shape is a hand edit: refused, so a rewrite never silently drops a key someone added.
 */
export function parseKeysFile(text: string): ApiKey[] {
  const meta = new Map<string, Omit<ApiKey, 'secret'>>();
  const keys: ApiKey[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(marker)) {
      const parsed = JSON.parse(line.slice(marker.length)) as Partial<Record<keyof ApiKey, unknown>>;
      if (typeof parsed.id !== 'string' || !idShape.test(parsed.id)) throw new Error(`a key line without a usable id: ${line}`);
      meta.set(parsed.id, {
        id: parsed.id,
        label: typeof parsed.label === 'string' ? parsed.label : '',
        kind: parsed.kind === 'probe' ? 'probe' : 'client',
        created: typeof parsed.created === 'string' ? parsed.created : '',
        expires: typeof parsed.expires === 'number' ? parsed.expires : null,
      });
      continue;
    }
    const entry = /^\s+"Bearer (\S+)" (\S+);$/.exec(line);
    if (entry === null) continue;
    const [, secret = '', id = ''] = entry;
    const known = meta.get(id);
    if (!secretShape.test(secret) || known === undefined) throw new Error(`a map line mcp-deploy did not write (key ${id})`);
    keys.push({ ...known, secret });
  }
  return keys;
}

/** Keys whose overlap is over: dropped by the next run that writes the file. */
export function expired(keys: readonly ApiKey[], nowSeconds: number): ApiKey[] {
  return keys.filter((key) => key.expires !== null && key.expires <= nowSeconds);
}

/** `24h`, `90m`, `30s`, `2d`: seconds. */
export function parseOverlap(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/.exec(text.trim());
  if (match === null) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[(match[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(match[1]) * unit);
}
