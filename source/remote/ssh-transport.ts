import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import type { Client, SFTPWrapper } from 'ssh2';
import { DeployError } from '../errors.js';
import { composeCommand } from './compose.js';
import { splitLines } from './lines.js';
import { connectionLost } from './ssh-errors.js';
import { ExecChannels, exitCode } from './ssh-exec.js';
import { isUnsupported, sftpCall, sftpFailure, type SftpError } from './sftp-calls.js';
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
 * multiplexed on it (ssh-exec.ts, which also says what exit codes mean); single files are read
 * and written through one SFTP session opened on first use (a tree goes as a tar stream on an
 * exec channel, tar-upload.ts). If the connection drops, every pending call rejects with an
 * 'unreachable' DeployError naming what it was doing. A timeout throws a 'timeout' DeployError.
 */

const sftpNoSuchFile = 2;

type Pending = { readonly during: string; readonly fail: (error: DeployError) => void };

export class SshTransport implements Transport {
  readonly label: string;
  readonly #client: Client;
  readonly #exec: ExecChannels;
  #sftp: Promise<SFTPWrapper> | undefined;
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
      const outcome = await this.#exec.execute(text, options, out.push, err.push);
      out.end();
      err.end();
      if (outcome.kind === 'timeout') throw commandTimedOut(options.timeoutMs ?? 0);
      // Like LocalTransport: null when the command did not exit on its own.
      if (outcome.kind === 'exit') return { code: outcome.code };
      if (outcome.kind === 'aborted' && outcome.code !== undefined) return { code: outcome.code };
      return { code: null };
    });
  }

  readFile(remotePath: string): Promise<Buffer | null> {
    return this.#guard(`reading ${remotePath}`, async () => {
      const sftp = await this.#sftpSession();
      return new Promise<Buffer | null>((resolve, reject) => {
        sftp.readFile(remotePath, (error: SftpError | undefined, data: Buffer) => {
          if (error === undefined || error === null) resolve(data);
          else if (error.code === sftpNoSuchFile) resolve(null);
          else reject(sftpFailure(`read ${remotePath}`, error));
        });
      });
    });
  }

  writeFileAtomic(remotePath: string, data: string | Buffer, mode = 0o644): Promise<void> {
    return this.#guard(`writing ${remotePath}`, async () => {
      const sftp = await this.#sftpSession();
      const temporary = `${remotePath}.tmp-${randomBytes(6).toString('hex')}`;
      try {
        await sftpCall(`write ${temporary}`, (done) => sftp.writeFile(temporary, data, { mode }, done));
        await sftpCall(`chmod ${temporary}`, (done) => sftp.chmod(temporary, mode, done));
        await this.#replace(sftp, temporary, remotePath);
      } catch (error) {
        await new Promise<void>((resolve) => sftp.unlink(temporary, () => resolve()));
        throw error;
      }
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

  #sftpSession(): Promise<SFTPWrapper> {
    this.#sftp ??= new Promise<SFTPWrapper>((resolve, reject) => {
      try {
        this.#client.sftp((error, sftp) => {
          if (error !== undefined && error !== null) {
            this.#sftp = undefined;
            reject(
              new DeployError('host-state', `Cannot open an SFTP session on ${this.label}: ${error.message}.`, {
                hint: "Enable the sftp subsystem in the host's sshd_config (Subsystem sftp internal-sftp, or the sftp-server path), then reload sshd.",
                cause: error,
              }),
            );
            return;
          }
          // A session that ends (the server's sftp process died) is reopened on next use.
          sftp.on('close', () => {
            this.#sftp = undefined;
          });
          resolve(sftp);
        });
      } catch (error) {
        this.#sftp = undefined;
        reject(error);
      }
    });
    return this.#sftp;
  }

  /** posix-rename replaces an existing file; plain SFTP rename refuses to. */
  async #replace(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
    let extension = true;
    try {
      await sftpCall(`rename ${from}`, (done) => sftp.ext_openssh_rename(from, to, done));
    } catch (error) {
      if (!isUnsupported(error)) throw error;
      extension = false;
    }
    if (!extension) await this.#runChecked(['mv', '-f', '--', from, to], `rename ${from}`);
  }

  async #runChecked(argv: readonly string[], what: string, options: { readonly input?: Buffer } = {}): Promise<void> {
    const stderr: Buffer[] = [];
    const outcome = await this.#exec.execute(
      composeCommand(argv),
      options,
      () => {},
      (chunk) => stderr.push(chunk),
    );
    const code = exitCode(outcome);
    if (code !== 0) {
      throw new DeployError(
        'host-state',
        `Could not ${what} on ${this.label} (exit ${code}): ${Buffer.concat(stderr).toString('utf8').trim()}`,
        {
          hint: 'Check the free space and the permissions under the deploy root: mcp-deploy doctor checks both.',
        },
      );
    }
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
