import { posix } from 'node:path';
import type { UploadEntry } from '../remote/upload-entry.js';
import type { Manifest, ManifestDiff } from './manifest.js';

export type PlanSource = {
  readonly dirs: readonly { readonly path: string; readonly mode: number }[];
  readonly files: readonly { readonly path: string; readonly absolutePath: string; readonly size: number; readonly mode: number }[];
  readonly symlinks: readonly { readonly path: string; readonly target: string }[];
};

/**
 * The entries of a new release tree: directories first, then files that are new or changed
 * (their bytes are sent), files whose bytes are already in `previousReleaseDir` (hard-linked
 * there, nothing sent), and symlinks last. A hard link shares the mode of the file it links,
 * so a file whose mode changed is sent again rather than linked. A file sent carries the sha256
 * it was hashed with (from `manifest`): the upload refuses it if the bytes it reads are others.
 */
export function planUpload(source: PlanSource, diff: ManifestDiff, previousReleaseDir: string | null, manifest?: Manifest): UploadEntry[] {
  const reusable = new Map(diff.unchanged.map((entry) => [entry.path, entry]));
  const hashes = new Map((manifest ?? []).map((entry) => [entry.path, entry.sha256]));
  const entries: UploadEntry[] = source.dirs.map((dir) => ({ kind: 'dir', path: dir.path, mode: dir.mode & 0o7777 }));
  for (const file of source.files) {
    const previous = reusable.get(file.path);
    const mode = file.mode & 0o7777;
    if (previous !== undefined && previousReleaseDir !== null && previous.mode === mode) {
      entries.push({ kind: 'link', path: file.path, mode, size: file.size, from: posix.join(previousReleaseDir, file.path) });
    } else {
      const sha256 = hashes.get(file.path);
      entries.push({ kind: 'file', path: file.path, mode, size: file.size, localPath: file.absolutePath, ...(sha256 ? { sha256 } : {}) });
    }
  }
  for (const link of source.symlinks) entries.push({ kind: 'symlink', path: link.path, target: link.target });
  return entries;
}

export function uploadTotals(entries: readonly UploadEntry[]): { files: number; bytes: number; linked: number } {
  let files = 0;
  let bytes = 0;
  let linked = 0;
  for (const entry of entries) {
    if (entry.kind === 'file') {
      files += 1;
      bytes += entry.size;
    } else if (entry.kind === 'link') linked += 1;
  }
  return { files, bytes, linked };
}
