import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The real binary in a real pseudo-terminal: a private tmux server (its own socket, so no other
 * tmux is ever touched) runs one command; tests send keys and read the screen as a person would.
 * The child gets CI=false so Ink renders live frames.
 */
export type Terminal = {
  screen(): string;
  send(...keys: string[]): void;
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** The command's exit status once it has ended, else null. */
  exitStatus(): number | null;
  waitForExit(timeoutMs?: number): Promise<number>;
  stop(): void;
};

export function tmuxAvailable(): boolean {
  return spawnSync('tmux', ['-V']).status === 0;
}

export function openTerminal(
  command: readonly string[],
  options: { cwd: string; env?: Record<string, string>; columns?: number; rows?: number },
): Terminal {
  const dir = mkdtempSync(join(tmpdir(), 'mcpd-tmux-'));
  const socket = join(dir, 'socket');
  const statusFile = join(dir, 'status');
  const tmux = (...args: string[]) => execFileSync('tmux', ['-S', socket, ...args], { encoding: 'utf8' });
  const env = { CI: 'false', TERM: 'xterm-256color', FORCE_COLOR: '0', ...options.env };
  const exports = Object.entries(env)
    .map(([name, value]) => `export ${name}=${shellQuote(value)};`)
    .join(' ');
  // The shell records the command's status, then keeps the pane open so the last screen can be read.
  const inner = `${exports} unset CI_NAME; ${command.map(shellQuote).join(' ')}; echo $? > ${shellQuote(statusFile)}; sleep 600`;
  tmux(
    'new-session',
    '-d',
    '-s',
    'test',
    '-x',
    String(options.columns ?? 120),
    '-y',
    String(options.rows ?? 40),
    '-c',
    options.cwd,
    `sh -c ${shellQuote(inner)}`,
  );
  tmux('set-option', '-t', 'test', 'remain-on-exit', 'on');
  const screen = () => {
    try {
      return tmux('capture-pane', '-p', '-t', 'test');
    } catch {
      return '';
    }
  };
  const exitStatus = () => {
    try {
      const text = readFileSync(statusFile, 'utf8').trim();
      return text === '' ? null : Number(text);
    } catch {
      return null;
    }
  };
  const waitFor = async (text: string | RegExp, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const current = screen();
      if (typeof text === 'string' ? current.includes(text) : text.test(current)) return current;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(text)}; the screen was:\n${current}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  return {
    screen,
    send: (...keys) => {
      tmux('send-keys', '-t', 'test', ...keys);
    },
    waitFor,
    exitStatus,
    waitForExit: async (timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = exitStatus();
        if (status !== null) return status;
        if (Date.now() > deadline) throw new Error(`the command did not exit; the screen was:\n${screen()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop: () => {
      try {
        // Our own server on our own socket: ends its session and the command in it.
        tmux('kill-server');
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}
