import { constants } from 'node:os';
import type { RunOptions } from './transport.js';

/** How a command on an SSH host ended, whichever channel carried it (ssh-exec.ts, ssh-shell.ts). */
export type Outcome =
  | { readonly kind: 'exit'; readonly code: number }
  | { readonly kind: 'signal'; readonly signal: string }
  | { readonly kind: 'no-status' }
  | { readonly kind: 'aborted'; readonly code: number | undefined }
  | { readonly kind: 'timeout' };

export type ExecOptions = Pick<RunOptions, 'input' | 'timeoutMs' | 'signal'>;

/**
 * The status a shell would show as `$?`: the command's own, 128 + the signal number when the host
 * reports it was killed by one, 255 when the channel closed without any status (as OpenSSH's ssh).
 */
export function exitCode(outcome: Outcome): number {
  switch (outcome.kind) {
    case 'exit':
      return outcome.code;
    case 'signal': {
      // ssh2 reports 'SIGTERM'; the protocol itself says 'TERM'.
      const number = (constants.signals as Record<string, number | undefined>)[`SIG${outcome.signal.replace(/^SIG/, '')}`];
      return number === undefined ? 255 : 128 + number;
    }
    case 'aborted':
      return outcome.code ?? 255;
    case 'no-status':
    case 'timeout':
      return 255;
  }
}

/** sshd refused a session channel (its MaxSessions): nothing ran, and a slot may free up. */
export function isSessionRefusal(error: unknown): boolean {
  return error instanceof Error && /Channel open failure/i.test(error.message) && !/connection/i.test(error.message);
}
