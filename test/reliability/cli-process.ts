import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The real mcp-deploy binary as a child process whose PID we hold, so a test can signal it
 * (a second Ctrl-C), wait for a line it prints (a fault's pause marker) and see how it ended
 * (an exit code, or the signal that killed it). Run with the repo's Node 24 directly, so the PID
 * is the CLI itself and not bin/mcp-deploy.js's re-exec wrapper for an older Node.
 */

export const nodeBinary = new URL('../../node_modules/.bin/node', import.meta.url).pathname;
export const cliEntry = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;

export type CliEnd = {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** The run was SIGKILLed by us because it exceeded its time limit. */
  readonly timedOut: boolean;
};

export type CliProcess = {
  readonly pid: number;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  /** Resolves when the output matches; rejects after `timeoutMs` or when the process ends first. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends a signal to the CLI's PID; false when it had already exited. */
  signal(name: NodeJS.Signals): boolean;
  /** Stops reading the CLI's stdout, as `mcp-deploy … | head -1` does: its next write fails (EPIPE). */
  closeStdout(): void;
  readonly ended: Promise<CliEnd>;
};

export type CliOptions = {
  readonly env?: Readonly<Record<string, string>>;
  /** MCP_DEPLOY_FAULT for this run (turns on MCP_DEPLOY_TESTING as well). */
  readonly fault?: string;
  readonly cwd?: string;
  /** The run is SIGKILLed after this long; 150 s by default. */
  readonly timeoutMs?: number;
  /** Wrap the CLI, e.g. ['/usr/bin/time', '-v']; the PID is then the wrapper's. */
  readonly wrapper?: readonly string[];
  /** The Node that runs bin/mcp-deploy.js; the repo's Node 24 by default. */
  readonly node?: string;
};

export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('MCP_DEPLOY_')) env[name] = value;
  }
  Object.assign(env, { CI: 'true', NO_COLOR: '1' }, options.env ?? {});
  if (options.fault !== undefined) Object.assign(env, { MCP_DEPLOY_TESTING: '1', MCP_DEPLOY_FAULT: options.fault });
  const argv = [...(options.wrapper ?? []), options.node ?? nodeBinary, cliEntry, ...args];
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: options.cwd ?? process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')}`);
  const pid = child.pid;
  let all = '';
  let stdout = '';
  let stderr = '';
  let exited = false;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    all += chunk.toString('utf8');
    notify();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    all += chunk.toString('utf8');
    notify();
  });
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, options.timeoutMs ?? 150_000);
  const ended = new Promise<CliEnd>((resolve) => {
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(limit);
      notify();
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started), timedOut });
    });
  });
  return {
    pid,
    output: () => all,
    ended,
    signal: (name) => {
      if (exited) return false;
      try {
        process.kill(pid, name);
        return true;
      } catch {
        return false;
      }
    },
    closeStdout: () => {
      child.stdout.destroy();
    },
    waitForOutput: (pattern, timeoutMs = 60_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(all)) finish();
          else if (exited) finish(new Error(`the CLI ended before printing ${pattern}; its output:\n${all}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`no ${pattern} from the CLI after ${timeoutMs} ms; its output:\n${all}`)),
          timeoutMs,
        );
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Runs the CLI to its end. */
export async function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliEnd> {
  return startCli(args, options).ended;
}

/** Waits a little, bounded: for the host to settle after a fault (nginx workers, killed sessions). */
export function settle(ms = 300): Promise<void> {
  return sleep(ms);
}
