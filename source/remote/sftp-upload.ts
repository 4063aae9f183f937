import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { fsPath } from '../project/file-names.js';
import { ensureDir, inParallel, sftpCall } from './sftp-calls.js';
import type { UploadEntry, UploadOptions } from './transport.js';
import { Progress } from './upload-progress.js';

const uploadConcurrency = 8;
const mkdirConcurrency = 16;

export type SftpTreeHooks = {
  readonly hardLink: (from: string, to: string) => Promise<void>;
  /** Runs once every file is in, before any directory gets its final (maybe read-only) mode. */
  readonly beforeModes?: () => Promise<void>;
  /** Relative paths of directories whose mode is not this function's to set. */
  readonly modesSetLater?: ReadonlySet<string>;
};

/**
 * A tree over one SFTP session: directories first (shallowest first, so every file has its
 * parent), then files, hard links and symlinks several at a time, then directory modes deepest
 * first (a read-only directory must not stop us writing into it). Every path must be UTF-8;
 * wire-names.ts prepares trees whose names are not.
 */
export async function uploadTreeOverSftp(
  sftp: SFTPWrapper,
  remoteRoot: string,
  entries: readonly UploadEntry[],
  options: UploadOptions,
  hooks: SftpTreeHooks,
): Promise<void> {
  const target = (path: string) => posix.join(remoteRoot, relativePath(path));

  // Directories first, shallowest first, so every file has its parent.
  const dirModes = new Map<string, number>();
  const dirs = new Set<string>([remoteRoot]);
  for (const entry of entries) {
    const segments = relativePath(entry.path).split('/');
    const parents = entry.kind === 'dir' ? segments.length : segments.length - 1;
    for (let depth = 1; depth <= parents; depth += 1) dirs.add(posix.join(remoteRoot, ...segments.slice(0, depth)));
    if (entry.kind === 'dir' && hooks.modesSetLater?.has(entry.path) !== true) dirModes.set(target(entry.path), entry.mode);
  }
  const depthOf = (dir: string) => dir.split('/').length;
  for (const depth of [...new Set([...dirs].map(depthOf))].sort((a, b) => a - b)) {
    const level = [...dirs].filter((dir) => depthOf(dir) === depth);
    // Owner-writable while the tree fills, whatever the final mode.
    await inParallel(level, mkdirConcurrency, options.signal, (dir) => {
      const mode = dirModes.get(dir);
      return ensureDir(sftp, dir, mode === undefined ? undefined : mode | 0o700);
    });
  }

  const filesTotal = entries.filter((entry) => entry.kind === 'file' || entry.kind === 'link').length;
  const bytesTotal = entries.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0);
  const progress = new Progress(filesTotal, bytesTotal, options.onProgress);
  const leaves = entries.filter((entry) => entry.kind !== 'dir');
  await inParallel(leaves, uploadConcurrency, options.signal, async (entry) => {
    const path = target(entry.path);
    switch (entry.kind) {
      case 'file':
        await sftpCall(`upload ${entry.path}`, (done) =>
          // A local name that is not UTF-8 is opened by its bytes; node:fs takes either.
          sftp.fastPut(
            fsPath(entry.localPath) as string,
            path,
            { mode: entry.mode, concurrency: 8, step: (sent) => progress.partial(path, sent) },
            done,
          ),
        );
        // fastPut sets the mode on the open handle (no umask) before writing, except for an empty
        // file, which it only creates: then the umask applied, so set it here.
        if (entry.size === 0) await sftpCall(`chmod ${entry.path}`, (done) => sftp.chmod(path, entry.mode, done));
        progress.fileDone(path, entry.size);
        break;
      case 'link':
        await hooks.hardLink(entry.from, path);
        progress.fileDone(path, 0);
        break;
      case 'symlink':
        // ssh2 swaps the arguments itself for OpenSSH servers, which have them reversed.
        await sftpCall(`symlink ${entry.path}`, (done) => sftp.symlink(entry.target, path, done));
        break;
    }
  });
  options.signal?.throwIfAborted();
  await hooks.beforeModes?.();

  // Modes last, deepest first: a read-only directory must not stop us writing into it.
  for (const [dir, mode] of [...dirModes].sort(([a], [b]) => b.split('/').length - a.split('/').length)) {
    await sftpCall(`chmod ${dir}`, (done) => sftp.chmod(dir, mode, done));
  }
}

/** An upload path as given, checked to stay inside the upload root. */
function relativePath(path: string): string {
  const clean = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.split('/').some((segment) => segment === '..' || segment === '')) {
    throw new Error(`not a relative upload path: ${JSON.stringify(path)}`);
  }
  return clean;
}
