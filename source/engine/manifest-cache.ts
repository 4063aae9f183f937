import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isSafeReleaseId } from '../host/layout.js';

/**
 * The manifests of releases this machine uploaded or read, kept so that a deploy does not move
 * the active release's whole manifest again: the host is asked only for its manifest's sha256,
 * and a cached copy with that hash is used instead of the file. Keyed by release id and content
 * hash (`<id>.<sha256>.json`), so a stale or foreign entry can never be taken for the real one:
 * the host's hash decides. Losing the cache costs one compressed manifest transfer, nothing else.
 */

const keep = 64;

export function manifestCacheDir(): string {
  const explicit = process.env['MCP_DEPLOY_CACHE_DIR'];
  if (explicit) return join(explicit, 'manifests');
  return join(process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'mcp-deploy', 'manifests');
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The cached manifest bytes of `release` and their hash, or null. */
export async function cachedManifest(release: string): Promise<{ hash: string; bytes: Buffer } | null> {
  if (!isSafeReleaseId(release)) return null;
  try {
    const dir = manifestCacheDir();
    const name = (await readdir(dir)).find((file) => file.startsWith(`${release}.`) && file.endsWith('.json'));
    if (name === undefined) return null;
    const bytes = await readFile(join(dir, name));
    const hash = sha256Hex(bytes);
    // A damaged entry is no entry.
    return name === `${release}.${hash}.json` ? { hash, bytes } : null;
  } catch {
    return null;
  }
}

/** Remembers a release's manifest bytes; never fails a deploy. */
export async function storeManifest(release: string, bytes: Buffer): Promise<void> {
  if (!isSafeReleaseId(release)) return;
  try {
    const dir = manifestCacheDir();
    await mkdir(dir, { recursive: true });
    const final = join(dir, `${release}.${sha256Hex(bytes)}.json`);
    const temporary = `${final}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(temporary, bytes);
    await rename(temporary, final);
    const names = await readdir(dir);
    for (const stale of names.filter((name) => name.startsWith(`${release}.`) && join(dir, name) !== final)) await unlink(join(dir, stale));
    if (names.length > keep) await trim(dir);
  } catch {
    // a cache that cannot be written only costs a transfer next time
  }
}

async function trim(dir: string): Promise<void> {
  const entries = await Promise.all(
    (await readdir(dir)).map(async (name) => ({ name, at: (await stat(join(dir, name)).catch(() => null))?.mtimeMs ?? 0 })),
  );
  entries.sort((a, b) => b.at - a.at);
  for (const entry of entries.slice(keep)) await unlink(join(dir, entry.name)).catch(() => {});
}
