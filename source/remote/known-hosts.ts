import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * Strict host key checking against an OpenSSH known_hosts file, the way `ssh` does it: a host
 * we have never seen is refused (the operator adds it on purpose), and a host whose key changed
 * is refused outright. Supports plain and `[host]:port` names, comma lists, `*`/`?` wildcards
 * and `!` negation, hashed names (`|1|salt|hash`) and the `@revoked` / `@cert-authority` markers.
 */

export type HostPatterns =
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'patterns'; readonly patterns: readonly string[] };

export type KnownHostEntry = {
  /** 1-based line in the file, for messages. */
  readonly line: number;
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  readonly hosts: HostPatterns;
  /** The key type named inside the key blob, e.g. `ssh-ed25519`. */
  readonly keyType: string;
  /** The public key blob (the base64 field, decoded). */
  readonly key: Buffer;
};

export type HostKeyVerdict =
  | { readonly status: 'known' }
  | { readonly status: 'revoked' }
  /** Listed with a different key of the presented type: possibly an attack, always refused. */
  | { readonly status: 'changed'; readonly knownFingerprints: readonly string[]; readonly lines: readonly number[] }
  /** Not listed with a key of this type; `otherKeyTypes` are types listed for the host. */
  | { readonly status: 'unknown'; readonly otherKeyTypes: readonly string[] };

/** Parses known_hosts text; lines it cannot read are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, index) => {
    const entry = parseLine(raw, index + 1);
    if (entry !== undefined) entries.push(entry);
  });
  return entries;
}

function parseLine(raw: string, line: number): KnownHostEntry | undefined {
  const text = raw.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const fields = text.split(/[ \t]+/);
  let marker: KnownHostEntry['marker'];
  if (fields[0]?.startsWith('@')) {
    const name = fields.shift();
    if (name === '@revoked') marker = 'revoked';
    else if (name === '@cert-authority') marker = 'cert-authority';
    else return undefined;
  }
  const [hostField, typeField, keyField] = fields;
  if (hostField === undefined || typeField === undefined || keyField === undefined) return undefined;
  const hosts = parseHosts(hostField);
  if (hosts === undefined) return undefined;
  const key = Buffer.from(keyField, 'base64');
  const keyType = keyTypeOf(key);
  // The type field must agree with the blob; a mismatch is a corrupt line.
  if (keyType === undefined || keyType !== typeField) return undefined;
  return { line, marker, hosts, keyType, key };
}

function parseHosts(field: string): HostPatterns | undefined {
  if (field.startsWith('|1|')) {
    const [salt, hash] = field.slice(3).split('|');
    if (salt === undefined || hash === undefined) return undefined;
    const saltBytes = Buffer.from(salt, 'base64');
    const hashBytes = Buffer.from(hash, 'base64');
    if (saltBytes.length !== 20 || hashBytes.length !== 20) return undefined;
    return { kind: 'hashed', salt: saltBytes, hash: hashBytes };
  }
  if (field.startsWith('|')) return undefined; // another hash scheme we do not know
  return { kind: 'patterns', patterns: field.split(',').filter((pattern) => pattern !== '') };
}

/** The name a host is listed under: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase();
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** Whether the entry's host field covers `name` (as made by knownHostsName). */
export function entryMatches(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.kind === 'hashed') {
    const digest = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return digest.equals(entry.hosts.hash);
  }
  let matched = false;
  for (const pattern of entry.hosts.patterns) {
    const negated = pattern.startsWith('!');
    if (wildcardMatch(negated ? pattern.slice(1) : pattern, name)) {
      // One matching negation excludes the host, whatever else matches.
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function wildcardMatch(pattern: string, name: string): boolean {
  const source = [...pattern.toLowerCase()]
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, 'su').test(name);
}

/** Decides what the presented host key means for host:port, given the known_hosts entries. */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, presented: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const forHost = entries.filter((entry) => entryMatches(entry, name));
  if (forHost.some((entry) => entry.marker === 'revoked' && entry.key.equals(presented))) return { status: 'revoked' };
  // Host certificates are not supported: a @cert-authority line neither trusts nor refuses.
  const plain = forHost.filter((entry) => entry.marker === undefined);
  if (plain.some((entry) => entry.key.equals(presented))) return { status: 'known' };
  const presentedType = keyTypeOf(presented);
  const sameType = plain.filter((entry) => entry.keyType === presentedType);
  if (sameType.length > 0) {
    return {
      status: 'changed',
      knownFingerprints: [...new Set(sameType.map((entry) => fingerprint(entry.key)))],
      lines: sameType.map((entry) => entry.line),
    };
  }
  return { status: 'unknown', otherKeyTypes: [...new Set(plain.map((entry) => entry.keyType))] };
}

/** Key types listed (unmarked) for host:port, in file order: what to ask the server for first. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  return [...new Set(entries.filter((entry) => entry.marker === undefined && entryMatches(entry, name)).map((entry) => entry.keyType))];
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the blob's SHA-256. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The type string at the start of an SSH public key blob, or undefined if it is not one. */
export function keyTypeOf(keyBlob: Buffer): string | undefined {
  if (keyBlob.length < 4) return undefined;
  const length = keyBlob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > keyBlob.length) return undefined;
  const type = keyBlob.subarray(4, 4 + length).toString('latin1');
  return /^[A-Za-z0-9@._-]+$/.test(type) ? type : undefined;
}

/** The entries of a known_hosts file; a missing file has none (every host is then unknown). */
export async function loadKnownHosts(path: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
