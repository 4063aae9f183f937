import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { Client } from 'ssh2';
import { DeployError } from '../errors.js';
import { composeCommand } from './compose.js';
import { splitLines } from './lines.js';
import { connectionLost } from './ssh-errors.js';
import { ExecChannels } from './ssh-exec.js';
import { exitCode } from './ssh-outcome.js';
import { missingFileCode, readFileCommand, writeFileAtomicCommand } from './file-commands.js';
import {
  commandTimedOut,
  type RemoteCommand,
  type RunOptions,
  type RunResult,
  type StreamOptions,
  type Transport,
  type Tunnel,
} from './transport.js';

/**
 * A host reached over one SSH connection (made by connect.ts). Commands are exec channels
 * multiplexed on it, or written to one of its kept shells (ssh-exec.ts, ssh-shell.ts; what exit
 * codes mean: ssh-outcome.ts); single files are read
 * and written by commands too (file-commands.ts: fewer round trips than SFTP), and a tree goes as
 * a tar stream on one command's stdin (tar-upload.ts). No SFTP subsystem is needed. If the
 * connection drops, every pending call rejects with an
 * 'unreachable' DeployError naming what it was doing. A timeout throws a 'timeout' DeployError.
 */

type Pending = { readonly during: string; readonly fail: (error: DeployError) => void };

export class SshTransport implements Transport {
  readonly label: string;
  readonly #client: Client;
  readonly #exec: ExecChannels;
  /** Set once the connection is gone, whether we closed it or it dropped. */
  #ended: 'closed' | 'lost' | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  readonly #pending = new Set<Pending>();
  readonly #tunnels = new Set<Tunnel>();

  /** Takes over a client that is already 'ready'. */
  constructor(client: Client, label: string) {
    this.label = label;
    this.#client = client;
    this.#exec = new ExecChannels(client);
    this.#exec.warm();
    client.on('error', (error) => this.#connectionEnded(error));
    client.on('end', () => this.#connectionEnded());
    client.on('close', () => this.#connectionEnded());
  }

  run(remote: RemoteCommand, options: RunOptions = {}): Promise<RunResult> {
    const text = composeCommand(remote, options);
    return this.#guard(`the command ${summary(text)}`, async () => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      const outcome = await this.#exec.execute(
        text,
        options,
        (chunk) => stdout.push(chunk),
        (chunk) => stderr.push(chunk),
      );
      if (outcome.kind === 'timeout') throw commandTimedOut(options.timeoutMs ?? 0);
      const stdoutBytes = Buffer.concat(stdout);
      return { code: exitCode(outcome), stdout: stdoutBytes.toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), stdoutBytes };
    });
  }

  stream(remote: RemoteCommand, options: StreamOptions): Promise<{ code: number | null }> {
    const text = composeCommand(remote, options);
    return this.#guard(`the command ${summary(text)}`, async () => {
      const out = splitLines((line) => options.onLine(line, 'stdout'));
      const err = splitLines((line) => options.onLine(line, 'stderr'));
      const outcome = await this.#exec.execute(text, options, out.push, err.push, options.longRunning === true ? 'own' : 'any');
      out.end();
      err.end();
      if (outcome.kind === 'timeout') throw commandTimedOut(options.timeoutMs ?? 0);
      // Like LocalTransport: null when the command did not exit on its own.
      if (outcome.kind === 'exit') return { code: outcome.code };
      if (outcome.kind === 'aborted' && outcome.code !== undefined) return { code: outcome.code };
      return { code: null };
    });
  }

  async readFile(remotePath: string): Promise<Buffer | null> {
    const result = await this.run(readFileCommand(remotePath));
    if (result.code === missingFileCode) return null;
    if (result.code !== 0)
      throw new DeployError('host-state', `Could not read ${remotePath} on ${this.label} (exit ${result.code}): ${result.stderr.trim()}`, {
        hint: 'Check the permissions under the deploy root: mcp-deploy doctor checks them.',
      });
    return result.stdoutBytes;
  }

  async writeFileAtomic(remotePath: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const temporary = `${remotePath}.tmp-${randomBytes(6).toString('hex')}`;
    const result = await this.run(writeFileAtomicCommand(remotePath, temporary, mode), { input: data });
    if (result.code !== 0)
      throw new DeployError('host-state', `Could not write ${remotePath} on ${this.label} (exit ${result.code}): ${result.stderr.trim()}`, {
        hint: 'Check the free space and the permissions under the deploy root: mcp-deploy doctor checks both.',
      });
  }

  async openTunnel(remotePort: number): Promise<Tunnel> {
    if (this.#ended !== undefined) throw this.#endedError(`opening a tunnel to port ${remotePort}`);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      try {
        this.#client.forwardOut('127.0.0.1', socket.remotePort ?? 0, '127.0.0.1', remotePort, (error, channel) => {
          if (error !== undefined && error !== null) {
            socket.destroy();
            return;
          }
          channel.on('error', () => socket.destroy());
          channel.on('close', () => socket.destroy());
          socket.on('close', () => channel.close());
          socket.pipe(channel).pipe(socket);
        });
      } catch {
        socket.destroy();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const localPort = address !== null && typeof address === 'object' ? address.port : 0;
    let closing: Promise<void> | undefined;
    const tunnel: Tunnel = {
      localPort,
      close: () => {
        closing ??= new Promise<void>((resolve) => {
          this.#tunnels.delete(tunnel);
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        });
        return closing;
      },
    };
    this.#tunnels.add(tunnel);
    return tunnel;
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing = true;
      this.#exec.close();
      await Promise.all([...this.#tunnels].map((tunnel) => tunnel.close()));
      if (this.#ended === undefined) {
        const gone = new Promise<void>((resolve) => this.#client.once('close', () => resolve()));
        this.#client.end();
        await Promise.race([gone, delay(2_000)]);
        this.#client.destroy();
      }
      this.#connectionEnded();
    })();
    return this.#closed;
  }

  /**
   * Runs `body` but rejects as soon as the connection ends, naming `during`: a dropped
   * connection must not leave a deploy step waiting for a channel that will never answer.
   */
  #guard<T>(during: string, body: () => Promise<T>): Promise<T> {
    if (this.#ended !== undefined) return Promise.reject(this.#endedError(during));
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = { during, fail: reject };
      this.#pending.add(pending);
      body()
        .then(resolve, reject)
        .finally(() => this.#pending.delete(pending));
    });
  }

  #connectionEnded(cause?: unknown): void {
    if (this.#ended !== undefined) return;
    this.#ended = this.#closing ? 'closed' : 'lost';
    for (const pending of this.#pending) {
      pending.fail(
        this.#ended === 'lost'
          ? connectionLost(this.label, pending.during, cause)
          : new DeployError('unreachable', `The connection to ${this.label} was closed during ${pending.during}.`),
      );
    }
    this.#pending.clear();
    for (const tunnel of this.#tunnels) void tunnel.close();
  }

  #endedError(during: string): DeployError {
    if (this.#ended === 'lost') return connectionLost(this.label, during);
    return new DeployError('unreachable', `The connection to ${this.label} is closed; cannot start ${during}.`);
  }
}

/** The first line of a command, shortened, for "lost during …" messages. */
function summary(text: string): string {
  const first = text.split('\n')[0] ?? '';
  return first.length > 80 || text.includes('\n') ? `${first.slice(0, 77)}…` : first;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export { withStdinWatchdog } from './ssh-channel.js';
