import { DeployError } from '../errors.js';

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
