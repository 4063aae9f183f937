import { spawn } from 'node:child_process';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { composeCommand } from './compose.js';
import {
  commandTimedOut,
  type RemoteCommand,
  type RunOptions,
  type RunResult,
  type StreamOptions,
  type Transport,
  type Tunnel,
} from './transport.js';
import { splitLines } from './lines.js';

/**
 * The host is this machine: the sandbox target and fast tests. Commands go through `sh -c` with
 * the same composed text the SSH transport sends, so quoting behaves identically.
 */
export class LocalTransport implements Transport {
  readonly label = 'local';

  async run(remote: RemoteCommand, options: RunOptions = {}): Promise<RunResult> {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const code = await this.#spawn(
      remote,
      options,
      (chunk) => stdout.push(chunk),
      (chunk) => stderr.push(chunk),
    );
    // As over SSH: a command that did not exit on its own reports 255.
    const stdoutBytes = Buffer.concat(stdout);
    return { code: code ?? 255, stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), stdoutBytes };
  }

  async stream(remote: RemoteCommand, options: StreamOptions): Promise<{ code: number | null }> {
    const out = splitLines((line) => options.onLine(line, 'stdout'));
    const err = splitLines((line) => options.onLine(line, 'stderr'));
    const code = await this.#spawn(remote, options, out.push, err.push);
    out.end();
    err.end();
    return { code };
  }

  /**
   * The exit code, or null when the command was ended by an abort. The same contract as the SSH
   * transport (transport-contract.test.ts): a timeout throws DeployError('timeout'), and a signal
   * that is already aborted runs nothing.
   */
  #spawn(
    remote: RemoteCommand,
    options: RunOptions,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
  ): Promise<number | null> {
    if (options.signal?.aborted) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      // detached: the command gets its own process group, so a timeout or abort ends the whole
      // pipeline it started, not just the shell.
      const child = spawn('sh', ['-c', composeCommand(remote, options)], {
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      let ended: 'timeout' | 'aborted' | undefined;
      const killGroup = (why: 'timeout' | 'aborted') => {
        ended ??= why;
        if (child.pid !== undefined && child.exitCode === null) {
          try {
            process.kill(-child.pid, 'SIGTERM');
          } catch {
            // already gone
          }
        }
      };
      const onAbort = () => killGroup('aborted');
      const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => killGroup('timeout'), options.timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', onStdout);
      child.stderr.on('data', onStderr);
      child.on('error', reject);
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (ended === 'timeout') reject(commandTimedOut(options.timeoutMs ?? 0));
        else resolve(code ?? (signal ? null : 0));
      });
      child.stdin.on('error', () => {
        // the command may exit without reading its input
      });
      const input = options.input;
      if (input instanceof Readable) {
        // As over SSH: a failed input stream must not look like a complete one, so no EOF then.
        if (input.destroyed) killGroup('aborted');
        input.once('error', () => killGroup('aborted'));
        input.pipe(child.stdin);
      } else child.stdin.end(input ?? '');
    });
  }

  async readFile(remotePath: string): Promise<Buffer | null> {
    try {
      return await readFile(remotePath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  async writeFileAtomic(remotePath: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const temporary = `${remotePath}.tmp-${randomBytes(6).toString('hex')}`;
    await writeFile(temporary, data, { mode });
    await chmod(temporary, mode);
    await rename(temporary, remotePath);
  }

  async openTunnel(remotePort: number): Promise<Tunnel> {
    return { localPort: remotePort, close: async () => {} };
  }

  async close(): Promise<void> {
    // nothing held open
  }
}
