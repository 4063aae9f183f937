import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { signalChannel } from './ssh-channel.js';
import { type ExecOptions, isSessionRefusal, type Outcome } from './ssh-outcome.js';
import { ShellOutput } from './shell-output.js';

/**
 * Shells kept open on the host for the connection's life, each running one command at a time.
 * An exec channel costs two round trips before the command runs (the channel's open, then the
 * exec request) and sshd a new session and login shell (tens of ms); a command written to a
 * kept shell costs one round trip and a fork. A deploy runs about twenty commands one after
 * another, so at 40 ms from the host this is most of its time.
 *
 * The shell is the user's login shell, as for an exec channel, running a small loop: it reads
 * a command's text between two lines holding a random word, runs it as `( eval … )` with stdin
 * from /dev/null (a subshell: an `exit`, a `cd`, a variable or a trap stays in it), then prints
 * the word and the status on stdout and the word on stderr. ShellOutput cuts each stream at the
 * word, so output reaches the caller byte for byte, as over an exec channel.
 *
 * A command's input, when it is small, travels in its request as base64 and reaches the command
 * as its stdin (through `base64 -d`, where the host has it); a stream or a large input goes on
 * an exec channel's stdin, and so does a command that runs until stopped (a follower would hold
 * the shell). A timeout or an abort asks sshd to signal the
 * session's process group (the loop and the command: servers are started with setsid, in groups
 * of their own), and the shell is not used again.
 */

/** Three: a deploy runs at most three commands at once (the prune), and each kept shell holds one of sshd's sessions (ten by default). */
const maxShells = 3;
/** A host that refuses this many kept shells gets exec channels only. */
const maxOpenFailures = 2;
const stopGraceMs = 3_000;
/** Larger input goes on an exec channel's stdin: the loop's `read` takes a request a byte at a time. */
const maxInlineInput = 32 * 1024;
const lostConnectionSettleMs = 250;

/**
 * Opens a session channel running `command`, holding one of the connection's session slots until
 * `release`, and hands it to `adopt` as soon as it is open; rejects when it could not be opened.
 */
export type ChannelOpener = (command: string, adopt: (channel: ClientChannel, release: () => void) => void) => Promise<void>;

/** The loop the kept shell runs; `greeting` marks where its own output starts (after anything a profile printed). */
export function shellLoop(greeting: string): string {
  return [
    'exec 3<&0 </dev/null',
    // Whether a command's input can come along in its request (as base64 on the first line).
    'if command -v base64 >/dev/null 2>&1; then mcpd_can=input; else mcpd_can=none; fi',
    `printf '\\037%s %s\\n' ${greeting} "$mcpd_can"; printf '\\037%s\\n' ${greeting} >&2`,
    "while IFS=' ' read -r mcpd_word mcpd_input <&3; do",
    '  mcpd_text= mcpd_whole=',
    '  while IFS= read -r mcpd_line <&3; do',
    '    if [ "$mcpd_line" = "$mcpd_word" ]; then mcpd_whole=1; break; fi',
    '    mcpd_text="$mcpd_text$mcpd_line',
    '"',
    '  done',
    // A request cut off by EOF is never run.
    '  [ -n "$mcpd_whole" ] || exit 0',
    '  if [ -n "$mcpd_input" ]; then',
    // printf is a builtin: the input (an env file's secrets) never stands on a command line.
    '    printf \'%s\' "$mcpd_input" | base64 -d | ( eval "$mcpd_text" ) 3<&-',
    '  else',
    '    ( eval "$mcpd_text" ) 3<&-',
    '  fi',
    '  mcpd_status=$?',
    `  printf '\\037%s\\n' "$mcpd_word" >&2`,
    `  printf '\\037%s %s\\n' "$mcpd_word" "$mcpd_status"`,
    'done',
  ].join('\n');
}

function word(): string {
  return `mcpd-${randomBytes(12).toString('hex')}`;
}

export class HostShell {
  readonly #channel: ClientChannel;
  readonly #release: () => void;
  readonly #gone: (shell: HostShell) => void;
  readonly #stdout = new ShellOutput();
  readonly #stderr = new ShellOutput();
  #state: 'idle' | 'busy' | 'gone' = 'idle';
  /** The host has base64, so input can travel in the request; known once the greeting arrived. */
  #takesInput = false;
  #onClose: (() => void) | undefined;

  constructor(channel: ClientChannel, release: () => void, greeting: string, gone: (shell: HostShell) => void) {
    this.#channel = channel;
    this.#release = release;
    this.#gone = gone;
    let capability = '';
    this.#stdout.expect(Buffer.from(`\x1f${greeting} `), () => {});
    this.#stdout.expect(
      Buffer.from('\n'),
      (chunk) => {
        capability += chunk.toString('latin1');
      },
      () => {
        this.#takesInput = capability === 'input';
      },
    );
    this.#stderr.expect(Buffer.from(`\x1f${greeting}\n`), () => {});
    channel.on('data', (chunk: Buffer) => this.#stdout.push(chunk));
    channel.stderr.on('data', (chunk: Buffer) => this.#stderr.push(chunk));
    channel.on('error', () => {
      // the 'close' that follows settles it
    });
    channel.on('close', () => {
      this.#retire();
      // sshd counts the session until the channel is closed, not when we stop using it.
      this.#release();
      this.#onClose?.();
    });
  }

  get idle(): boolean {
    return this.#state === 'idle';
  }

  /** Whether a command with this input can run here: none, or a small string or buffer on a host with base64. */
  accepts(input: ExecOptions['input']): boolean {
    if (input === undefined) return true;
    if (!this.#takesInput || (typeof input !== 'string' && !Buffer.isBuffer(input))) return false;
    return Buffer.byteLength(input) <= maxInlineInput;
  }

  /** Runs one command; the caller took this shell while it was idle. */
  execute(text: string, options: ExecOptions, onStdout: (chunk: Buffer) => void, onStderr: (chunk: Buffer) => void): Promise<Outcome> {
    this.#state = 'busy';
    const request = word();
    return new Promise<Outcome>((resolve) => {
      let status: number | undefined;
      let stderrDone = false;
      let stopping: 'aborted' | 'timeout' | undefined;
      let finished = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (outcome: Outcome) => {
        if (finished) return;
        finished = true;
        for (const timer of timers) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#onClose = undefined;
        if (this.#state === 'busy') this.#state = 'idle';
        resolve(outcome);
      };
      const settled = () => {
        if (status !== undefined && stderrDone) finish({ kind: 'exit', code: status });
      };
      const stopped = (): Outcome => (stopping === 'timeout' ? { kind: 'timeout' } : { kind: 'aborted', code: undefined });
      const stop = (why: 'aborted' | 'timeout') => {
        if (stopping !== undefined || finished) return;
        stopping = why;
        this.#retire();
        signalChannel(this.#channel, 'TERM');
        this.#channel.end();
        timers.push(
          setTimeout(() => {
            this.#channel.close();
            timers.push(setTimeout(() => finish(stopped()), 1_000));
          }, stopGraceMs),
        );
      };
      const onAbort = () => stop('aborted');
      this.#onClose = () => {
        if (stopping !== undefined) finish(stopped());
        // No status: if the connection just dropped, the transport's guard rejects first with the real reason.
        else timers.push(setTimeout(() => finish({ kind: 'no-status' }), lostConnectionSettleMs));
      };

      let statusText = '';
      this.#stdout.expect(Buffer.from(`\x1f${request} `), onStdout);
      this.#stdout.expect(
        Buffer.from('\n'),
        (chunk) => {
          statusText += chunk.toString('latin1');
        },
        () => {
          const code = Number.parseInt(statusText, 10);
          status = Number.isInteger(code) ? code : 255;
          settled();
        },
      );
      this.#stderr.expect(Buffer.from(`\x1f${request}\n`), onStderr, () => {
        stderrDone = true;
        settled();
      });

      if (options.timeoutMs !== undefined) timers.push(setTimeout(() => stop('timeout'), options.timeoutMs));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) {
        stop('aborted');
        return;
      }
      const input = options.input === undefined ? '' : ` ${Buffer.from(options.input as string | Buffer).toString('base64')}`;
      this.#channel.write(`${request}${input}\n${text}\n${request}\n`);
    });
  }

  /** Lets the loop end at its stdin's EOF. */
  end(): void {
    this.#retire();
    this.#channel.end();
  }

  #retire(): void {
    if (this.#state === 'gone') return;
    this.#state = 'gone';
    this.#gone(this);
  }
}

/** The kept shells of one connection: opened as commands need them, at most maxShells. */
export class ShellPool {
  readonly #open: ChannelOpener;
  readonly #shells = new Set<HostShell>();
  #opening = 0;
  #failures = 0;
  #closed = false;
  /** How many shells this host leaves room for: lowered when sshd refuses a session (MaxSessions). */
  #cap = maxShells;

  constructor(open: ChannelOpener) {
    this.#open = open;
  }

  /** Opens a shell ahead of need, so the commands after the first find it ready. */
  warm(): void {
    this.#grow();
  }

  /**
   * An idle shell that can take this input, or undefined (the caller opens an exec channel); when
   * all are busy, another one is opened for the commands after.
   */
  take(input: ExecOptions['input']): HostShell | undefined {
    let idle = false;
    for (const shell of this.#shells) {
      if (!shell.idle) continue;
      if (shell.accepts(input)) return shell;
      idle = true;
    }
    if (!idle) this.#grow();
    return undefined;
  }

  close(): void {
    this.#closed = true;
    for (const shell of this.#shells) shell.end();
  }

  /**
   * sshd refused an exec channel: a host whose MaxSessions is below what our shells and channels
   * hold. An idle shell gives its session back, and no more are opened than remain.
   */
  relieve(): void {
    const idle = [...this.#shells].find((shell) => shell.idle);
    idle?.end();
    this.#cap = Math.min(this.#cap, this.#shells.size);
  }

  #grow(): void {
    if (this.#closed || this.#failures >= maxOpenFailures || this.#shells.size + this.#opening >= this.#cap) return;
    this.#opening += 1;
    const greeting = word();
    this.#open(shellLoop(greeting), (channel, release) => {
      const shell = new HostShell(channel, release, greeting, (gone) => this.#shells.delete(gone));
      if (this.#closed) shell.end();
      else this.#shells.add(shell);
    })
      .then(
        () => {},
        (error: unknown) => {
          this.#failures += 1;
          if (isSessionRefusal(error)) this.#cap = Math.min(this.#cap, this.#shells.size);
        },
      )
      .finally(() => {
        this.#opening -= 1;
      });
  }
}
