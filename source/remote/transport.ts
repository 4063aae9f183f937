/**
 * The one seam between mcp-deploy and a host. Everything that touches a host goes through this
 * interface; the ssh2 and local implementations are interchangeable, so the engine and its
 * tests do not know which one they hold.
 *
 * Commands are argument arrays (see quote.ts), or a `Script` when a step needs shell operators;
 * a Script's text must have been built with the helpers in quote.ts. A tree upload is one
 * command with a tar stream on its stdin (tar-upload.ts), the same on every transport.
 */

import type { Readable } from 'node:stream';
import { DeployError } from '../errors.js';

export type Script = { readonly script: string };

export type RemoteCommand = readonly string[] | Script;

/** What `run` and `stream` throw, on every transport, when `timeoutMs` passes first. */
export function commandTimedOut(timeoutMs: number): DeployError {
  return new DeployError('timeout', `remote command timed out after ${timeoutMs} ms`);
}

export type RunOptions = {
  /** Working directory on the host. */
  readonly cwd?: string;
  /** Extra environment for the command (exported in the remote shell before it runs). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Bytes written to the command's stdin, which is then closed; a stream is piped (with back
   * pressure) and closed when it ends. A stream that fails closes the channel without EOF.
   */
  readonly input?: string | Buffer | Readable;
  /** Give up after this long: the command is killed and the call throws DeployError('timeout'). */
  readonly timeoutMs?: number;
  /** Ends the command (code 255 from `run`, null from `stream`); already aborted: nothing runs. */
  readonly signal?: AbortSignal;
};

export type RunResult = {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout as the bytes it was, for output that holds file names (which need not be UTF-8). */
  readonly stdoutBytes: Buffer;
};

export type StreamOptions = RunOptions & {
  readonly onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * The command may run until it is stopped (a follower) or for as long as an operator's own
   * command likes (a hook, `exec`): over SSH it gets a channel of its own, so it never holds
   * one of the connection's kept shells (ssh-shell.ts) that quick commands share.
   */
  readonly longRunning?: boolean;
};

export interface Transport {
  /** How to name this host in messages: `deploy@example.org:22`, `local`. */
  readonly label: string;

  run(command: RemoteCommand, options?: RunOptions): Promise<RunResult>;

  /** Runs a command, delivering its output line by line until it exits or `signal` aborts. */
  stream(command: RemoteCommand, options: StreamOptions): Promise<{ code: number | null }>;

  /** The file's bytes, or null if it does not exist. */
  readFile(remotePath: string): Promise<Buffer | null>;

  /** Writes through a temporary file in the same directory and renames it into place. */
  writeFileAtomic(remotePath: string, data: string | Buffer, mode?: number): Promise<void>;

  /**
   * A local TCP port that reaches `remotePort` on the host's loopback: how health checks talk to
   * a colour that only listens on 127.0.0.1 over there. Locally it is the port itself.
   */
  openTunnel(remotePort: number): Promise<Tunnel>;

  close(): Promise<void>;
}

export type Tunnel = { readonly localPort: number; close(): Promise<void> };

/** Runs a command and throws when it exits non-zero; most steps want exactly this. */
export async function runChecked(transport: Transport, command: RemoteCommand, what: string, options?: RunOptions): Promise<RunResult> {
  const result = await transport.run(command, options);
  if (result.code !== 0) {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    throw new RemoteCommandError(what, result.code, detail);
  }
  return result;
}

/**
 * A command on the host that failed: the operator's to look into (a permission, a full disk, a
 * missing tool), never reported as our bug.
 */
export class RemoteCommandError extends DeployError {
  readonly code: number;
  readonly detail: string;
  constructor(what: string, code: number, detail: string) {
    super('host-state', `${what} failed (exit ${code})${detail ? `: ${detail}` : ''}`, {
      hint: "The output above is the host's own; mcp-deploy doctor checks the deploy root, nginx and the ports.",
    });
    this.name = 'RemoteCommandError';
    this.code = code;
    this.detail = detail;
  }
}
