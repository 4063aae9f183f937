import { once } from 'node:events';
import { posix } from 'node:path';
import { PassThrough, Readable, Transform, pipeline } from 'node:stream';
import { DeployError } from '../errors.js';
import { encodeFileName } from '../project/file-names.js';
import { chooseCompression, compressor, tarDecompressOption, type Compression } from './compression.js';
import type { HostTools } from './host-tools.js';
import { cmd, op, script } from './quote.js';
import { tarArchive } from './tar-pack.js';
import { RemoteCommandError, type Transport } from './transport.js';
import { inventoryScript, readInventory, type ArrivedFile } from './tree-inventory.js';
import { planLinkLists } from './link-lists.js';
import { planPatchedData } from './patched-data.js';

export type { ArrivedFile } from './tree-inventory.js';
import type { UploadEntry, UploadProgress } from './upload-entry.js';
import { Progress } from './upload-progress.js';

/**
 * A tree to the host in one command: new files, hard links to files already there, symlinks and
 * folders travel as one (compressed) tar stream on the stdin of one `tar -x`, on either transport,
 * and the same command then lists what arrived: the size and link count of every regular file, and
 * the sha256 of the ones asked for. No round trip per file, however many files there are.
 *
 * tar carries names as bytes (ours need not be UTF-8), modes (`-p`: no umask), symlinks, empty
 * folders and read-only ones (GNU tar sets a folder's mode after filling it); a hard link's target
 * is relative to the folder tar extracts in, so it must lie beside the upload root.
 */

export type UploadTreeOptions = {
  /** From `hostToolsProbe`, usually asked earlier in a command that was needed anyway. */
  readonly tools: HostTools;
  /** Which regular files the host hashes once they are in: those with one link (sent, not linked), or all. */
  readonly hash: 'sent' | 'all';
  /**
   * Takes the write bits off every regular file once it is in (links included, so an older
   * release's shared inode too): an in-place edit of a release then fails instead of spreading
   * to every release that shares the file.
   */
  readonly readOnlyFiles?: boolean;
  /** Overrides the measured choice (the bench compares them). */
  readonly compression?: Compression;
  readonly onProgress?: (progress: UploadProgress) => void;
  readonly signal?: AbortSignal;
};

export type UploadReceipt = {
  readonly compression: Compression;
  /** Bytes of the (compressed) archive sent. */
  readonly archiveBytes: number;
  /** Every regular file under the root, by path relative to it (names as file-names.ts keeps them). */
  readonly files: ReadonlyMap<string, ArrivedFile>;
};

export async function uploadTree(
  transport: Transport,
  remoteRootAsGiven: string,
  entries: readonly UploadEntry[],
  options: UploadTreeOptions,
): Promise<UploadReceipt> {
  if (!options.tools.gnuTar)
    throw new DeployError(
      'host-state',
      `The tar on ${transport.label} is not GNU tar (busybox?): uploads need GNU tar's pax and sparse support.`,
      {
        hint: 'Install GNU tar on the host (Alpine: apk add tar findutils coreutils), then deploy again.',
      },
    );
  const remoteRoot = posix.normalize(remoteRootAsGiven).replace(/(.)\/+$/, '$1');
  const parent = posix.dirname(remoteRoot);
  const compression = options.compression ?? chooseCompression(options.tools);
  for (const entry of entries) relativePath(entry.path);

  const filesTotal = entries.filter((entry) => entry.kind === 'file' || entry.kind === 'link').length;
  const bytesTotal = entries.reduce((sum, entry) => sum + (entry.kind === 'file' ? entry.size : 0), 0);
  const progress = new Progress(filesTotal, bytesTotal, options.onProgress);
  let packError: unknown;
  let archiveBytes = 0;
  const patched = planPatchedData(entries, options.tools);
  const linking = planLinkLists(patched.entries);
  const archive = Readable.from(
    tarArchive(linking.entries, {
      root: encodeFileName(posix.basename(remoteRoot)),
      linkTarget: (from) => linkTarget(parent, from),
      sparse: true,
      signal: options.signal,
      onFileBytes: (path, bytes, done) => (done ? progress.fileDone(path, bytes) : progress.partial(path, bytes)),
    }),
    { objectMode: false },
  );
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      archiveBytes += chunk.length;
      done(null, chunk);
    },
  });
  const input = new PassThrough();
  const zip = compressor(compression);
  const stages = zip === null ? [archive, counted, input] : [archive, zip, counted, input];
  pipeline(stages as [Readable, ...Transform[]], (error) => {
    if (error) packError = error;
  });

  // A command that ends before the archive does (a cut connection, a refused extraction) leaves
  // it waiting at a yield, with a file open until garbage collection: take it apart then.
  const result = await transport
    .run(
      {
        script: script(
          cmd(['cd', '--', parent]),
          op('&&'),
          cmd(['tar', '-x', '-p', '--no-same-owner', '--delay-directory-restore', ...tarDecompressOption(compression), '-f', '-']),
          op('&&'),
          cmd(['cd', '--', remoteRoot]),
          op('&&'),
          ...linking.steps,
          ...patched.steps,
          ...(options.readOnlyFiles ? [op("find . -type f -perm /0222 -exec chmod a-w -- '{}' + &&")] : []),
          ...inventoryScript(options.hash, options.tools.gzip),
        ),
      },
      { input, signal: options.signal },
    )
    .finally(async () => {
      if (archive.readableEnded || archive.closed) return;
      // 'close' comes once the generator's own cleanup (closing the file it read) has run.
      // Bounded: a file read that never returns must not hold the run's failure back.
      const closed = once(archive, 'close');
      archive.destroy();
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    });
  if (packError !== undefined) throw packError;
  options.signal?.throwIfAborted();
  if (result.code !== 0) {
    const detail = result.stderr.trim().split('\n').slice(-5).join('\n');
    throw new RemoteCommandError(`extracting the upload into ${remoteRoot} with tar`, result.code, detail);
  }
  return { compression, archiveBytes, files: readInventory(result.stdoutBytes, options.tools.gzip) };
}

/** A hard link's target as tar must see it: relative to the folder it extracts in. */
function linkTarget(parent: string, from: string): Buffer {
  const relative = posix.relative(parent, posix.normalize(from));
  if (relative === '' || relative.startsWith('../') || relative === '..' || posix.isAbsolute(relative))
    throw new Error(`a hard link's source must be beside the upload root: ${JSON.stringify(from)}`);
  return encodeFileName(relative);
}

/** An upload path as given, checked to stay inside the upload root. */
function relativePath(path: string): string {
  const clean = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.split('/').some((segment) => segment === '..' || segment === '' || segment === '.')) {
    throw new Error(`not a relative upload path: ${JSON.stringify(path)}`);
  }
  return clean;
}
