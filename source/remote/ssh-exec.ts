import { Readable } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { signalChannel, withStdinWatchdog } from './ssh-channel.js';
import { type ExecOptions, isSessionRefusal, type Outcome } from './ssh-outcome.js';
import { ShellPool } from './ssh-shell.js';
import { Slots } from './slots.js';

/**
 * Commands as exec channels multiplexed on one SSH connection: at most a few at a time (sshd's
 * MaxSessions), each fed its input, stopped on abort or timeout (a TERM signal, then EOF for the
 * stdin watchdog, then closing the channel), and reported as an Outcome. A command goes to one
 * of the connection's kept shells when one is idle and can take its input (ssh-shell.ts: one round
 * trip instead of two and a session start). The connection itself, and what happens to pending
 * commands when it drops, belong to SshTransport.
 */

/** OpenSSH allows 10 sessions per connection (MaxSessions); two are left for tunnels' bursts and sshd's slow slot release. */
const maxExecChannels = 8;
/** After asking a command to stop, how long to wait for it to end before closing its channel. */
const stopGraceMs = 3_000;
/** A channel that closes without an exit status may be the first sign of a dropped connection. */
const lostConnectionSettleMs = 250;

/** Where a command may run: `any` lets a kept shell take it; `own` (a follower, an operator's command) gets an exec channel. */
export type Placement = 'any' | 'own';

export class ExecChannels {
  readonly #client: Client;
  readonly #slots = new Slots(maxExecChannels);
  readonly #shells = new ShellPool((command, adopt) => this.#openSession(command, adopt));

  constructor(client: Client) {
    this.#client = client;
  }

  /** Opens the first kept shell while the connection's first command runs. */
  warm(): void {
    this.#shells.warm();
  }

  close(): void {
    this.#shells.close();
  }

  /** Runs `text` in an idle kept shell or on an exec channel of its own, feeds it, and reports how it ended. */
  async execute(
    text: string,
    options: ExecOptions,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
    placement: Placement = 'any',
  ): Promise<Outcome> {
    if (options.signal?.aborted) return { kind: 'aborted', code: undefined };
    if (placement === 'any') {
      const shell = this.#shells.take(options.input);
      if (shell !== undefined) return shell.execute(text, options, onStdout, onStderr);
    }
    // Without input, stdin is free to carry "stop": the watchdog ends the command at its EOF.
    const watchdog = options.input === undefined;
    const release = await this.#slots.acquire();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#open(watchdog ? withStdinWatchdog(text) : text, watchdog, options, onStdout, onStderr, release);
      } catch (error) {
        // sshd frees a session slot a moment after the channel's close reaches us, so under load a
        // new channel can be refused with MaxSessions' "open failed" although we hold fewer than
        // the limit. Nothing ran: open it again shortly (bounded), like a client retrying a busy server.
        if (!isSessionRefusal(error) || attempt >= channelOpenAttempts) {
          release();
          throw error;
        }
        // A host with fewer sessions than our kept shells and channels need: give one back.
        this.#shells.relieve();
        await new Promise((resolve) => setTimeout(resolve, 25 * attempt));
      }
    }
  }

  /**
   * A session channel for a kept shell, holding a slot for as long as the shell lives. `adopt`
   * takes the channel inside ssh2's callback, before any of its events can pass unheard.
   */
  async #openSession(command: string, adopt: (channel: ClientChannel, release: () => void) => void): Promise<void> {
    const release = await this.#slots.acquire();
    try {
      await new Promise<void>((resolve, reject) => {
        this.#client.exec(command, (error, channel) => {
          if (error !== undefined && error !== null) {
            reject(error);
            return;
          }
          adopt(channel, release);
          resolve();
        });
      });
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Opens the exec channel; rejects (without releasing the slot) only when it could not be opened. */
  #open(
    command: string,
    watchdog: boolean,
    options: ExecOptions,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
    release: () => void,
  ): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      try {
        this.#client.exec(command, (error, channel) => {
          if (error !== undefined && error !== null) {
            reject(error);
            return;
          }
          // Listen at once, inside this callback: over a fast link the exec reply, the output, the
          // exit status and the close can arrive in one batch, and an 'exit' nobody hears is lost.
          this.#watchChannel(channel, watchdog, options, onStdout, onStderr, release, resolve);
        });
      } catch (error) {
        // ssh2 throws when the connection is already gone; the guard reports that.
        reject(error);
      }
    });
  }

  #watchChannel(
    channel: ClientChannel,
    watchdog: boolean,
    options: ExecOptions,
    onStdout: (chunk: Buffer) => void,
    onStderr: (chunk: Buffer) => void,
    release: () => void,
    resolve: (outcome: Outcome) => void,
  ): void {
    let status: Outcome | undefined;
    let stopping: 'aborted' | 'timeout' | undefined;
    let finished = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: Outcome) => {
      if (finished) return;
      finished = true;
      release();
      for (const timer of timers) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const stopped = (): Outcome =>
      stopping === 'timeout' ? { kind: 'timeout' } : { kind: 'aborted', code: status?.kind === 'exit' ? status.code : undefined };
    const stop = (why: 'aborted' | 'timeout') => {
      if (stopping !== undefined || finished) return;
      stopping = why;
      signalChannel(channel, 'TERM');
      // EOF on stdin: the watchdog ends the command on servers that ignore signal requests.
      channel.end();
      timers.push(
        setTimeout(() => {
          channel.close();
          // sshd keeps a channel open until its command exits; do not wait for one that will not.
          timers.push(setTimeout(() => finish(stopped()), 1_000));
        }, stopGraceMs),
      );
    };
    const onAbort = () => stop('aborted');
    const noteStatus = (code: unknown, signalName: unknown) => {
      if (status !== undefined) return;
      if (typeof code === 'number') status = { kind: 'exit', code };
      else if (typeof signalName === 'string') status = { kind: 'signal', signal: signalName };
    };

    channel.on('data', onStdout);
    channel.stderr.on('data', onStderr);
    channel.on('error', () => {
      // the 'close' that follows settles the outcome
    });
    channel.on('exit', noteStatus);
    channel.on('close', (code: unknown, signalName: unknown) => {
      // ssh2 repeats the exit status on 'close', like a child process does.
      noteStatus(code, signalName);
      if (stopping !== undefined) finish(stopped());
      else if (status !== undefined) finish(status);
      // No status: if the connection just dropped, the guard rejects first with the real reason.
      else timers.push(setTimeout(() => finish({ kind: 'no-status' }), lostConnectionSettleMs));
    });

    if (options.timeoutMs !== undefined) timers.push(setTimeout(() => stop('timeout'), options.timeoutMs));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) stop('aborted');
    if (!watchdog) feed(channel, options.input);
  }
}

/**
 * Writes a command's input. A stream is piped with back pressure (the channel's window) and ends
 * the channel's stdin when it ends; one that fails closes the channel instead, so the command sees
 * a broken input (a truncated archive), never a complete-looking one.
 */
function feed(channel: ClientChannel, input: ExecOptions['input']): void {
  if (!(input instanceof Readable)) {
    channel.end(input);
    return;
  }
  // It may have failed already, while the channel was being opened.
  if (input.destroyed) {
    channel.close();
    return;
  }
  input.once('error', () => channel.close());
  input.pipe(channel);
}

const channelOpenAttempts = 8;
