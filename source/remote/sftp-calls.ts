import { DeployError } from '../errors.js';
import type { SFTPWrapper } from 'ssh2';

/** Promise wrappers and error wording for ssh2's callback-style SFTP calls. */

export type SftpError = Error & { code?: number };

export class UnsupportedExtension extends Error {}

/**
 * Calls an ssh2 SFTP method and turns its callback into a promise. ssh2 throws synchronously
 * when the server lacks an extension; that becomes UnsupportedExtension so callers can fall back.
 */
export function sftpCall(what: string, call: (done: (error?: SftpError | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    try {
      call((error) => (error === undefined || error === null ? resolve() : reject(sftpFailure(what, error))));
    } catch (error) {
      if (error instanceof Error && /does not support this extended request/.test(error.message))
        reject(new UnsupportedExtension(error.message));
      else reject(error);
    }
  });
}

export const sftpOpUnsupported = 8;

/** The server does not offer the extension (ssh2 knows from its hello) or answers OP_UNSUPPORTED. */
export function isUnsupported(error: unknown): boolean {
  if (error instanceof UnsupportedExtension) return true;
  const cause = error instanceof Error ? (error.cause as SftpError | undefined) : undefined;
  return cause?.code === sftpOpUnsupported;
}

export function sftpFailure(what: string, error: SftpError): DeployError {
  return new DeployError('host-state', `SFTP could not ${what}: ${error.message}`, {
    hint: 'Check the free space and the permissions under the deploy root: mcp-deploy doctor checks both.',
    cause: error,
  });
}

export async function ensureDir(sftp: SFTPWrapper, dir: string, mode: number | undefined): Promise<void> {
  try {
    await sftpCall(`create ${dir}`, (done) => (mode === undefined ? sftp.mkdir(dir, done) : sftp.mkdir(dir, { mode }, done)));
  } catch (error) {
    // OpenSSH answers a generic failure when it exists; fine if it is a directory.
    const isDir = await new Promise<boolean>((resolve) => sftp.stat(dir, (statError, stats) => resolve(!statError && stats.isDirectory())));
    if (!isDir) throw error;
  }
}

/** Runs `work` over `items`, at most `limit` at a time; stops taking new items on abort or the first error. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal | undefined,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length && !signal?.aborted) {
      const item = items[next] as T;
      next += 1;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure.error;
  signal?.throwIfAborted();
}
