import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { DeployError } from '../errors.js';
import { fsPath, printableName } from '../project/file-names.js';

/**
 * What a release contains, file by file. Comparing the new manifest with the active release's
 * (kept on the host) decides which files cross the wire: unchanged ones are hard-linked there.
 */

export const manifestEntrySchema = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  mode: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const manifestSchema = z.array(manifestEntrySchema);

export type ManifestEntry = z.infer<typeof manifestEntrySchema>;
export type Manifest = readonly ManifestEntry[];

export type LocalFile = { readonly path: string; readonly absolutePath: string; readonly size: number; readonly mode: number };

export async function hashFile(absolutePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(fsPath(absolutePath))) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Hashes files a few at a time: enough to keep the disk busy without opening thousands at once. */
export async function buildManifest(
  files: readonly LocalFile[],
  onProgress?: (done: number, total: number) => void,
): Promise<ManifestEntry[]> {
  const result: ManifestEntry[] = new Array(files.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const index = next++;
      const file = files[index]!;
      const sha256 = await hashFile(file.absolutePath).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        throw new DeployError(
          'validate',
          `${printableName(file.path)} disappeared while the release's files were being hashed: something is replacing it (a build, an editor, a sync?).`,
          { hint: 'Deploy again once whatever writes it has finished.' },
        );
      });
      result[index] = { path: file.path, size: file.size, mode: file.mode & 0o7777, sha256 };
      done += 1;
      onProgress?.(done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  return result;
}

export type ManifestDiff = {
  readonly added: readonly ManifestEntry[];
  readonly changed: readonly ManifestEntry[];
  readonly removed: readonly ManifestEntry[];
  readonly unchanged: readonly ManifestEntry[];
};

/** A file is unchanged when its bytes are (same sha256 and size); a mode change alone still reuses the bytes. */
export function diffManifests(next: Manifest, previous: Manifest | null): ManifestDiff {
  const before = new Map((previous ?? []).map((entry) => [entry.path, entry]));
  const added: ManifestEntry[] = [];
  const changed: ManifestEntry[] = [];
  const unchanged: ManifestEntry[] = [];
  for (const entry of next) {
    const old = before.get(entry.path);
    if (old === undefined) added.push(entry);
    else if (old.sha256 === entry.sha256 && old.size === entry.size) unchanged.push(entry);
    else changed.push(entry);
    before.delete(entry.path);
  }
  return { added, changed, removed: [...before.values()], unchanged };
}

/** Bytes that must cross the wire: everything added or changed. */
export function bytesToUpload(diff: ManifestDiff): number {
  return [...diff.added, ...diff.changed].reduce((sum, entry) => sum + entry.size, 0);
}
