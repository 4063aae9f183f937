import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/load.js';
import { splitLines } from '../remote/lines.js';
import { localRunner } from '../runtime/runner.js';
import { serverCommand } from '../runtime/server-command.js';
import { readEnvFile } from './env-check.js';

export type ServerExit = { readonly code: number | null; readonly signal: NodeJS.Signals | null };

export type LocalServer = {
  /** PID of the server, which is also its process-group id. */
  readonly pid: number;
  readonly port: number;
  /** http://127.0.0.1:PORT */
  readonly baseUrl: string;
  /** Settles when the server process exits, by itself or through stop(). */
  readonly exited: Promise<ServerExit>;
  /** The last output lines (stdout and stderr interleaved), oldest first. */
  outputTail(): string[];
  /** Ends the whole process group; resolves once no process of it is left. Safe to call twice. */
  stop(): Promise<void>;
};

export type StartOptions = {
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** RELEASE_ID given to the server. */
  readonly release?: string;
};

const host = '127.0.0.1';
const tailLines = 20;
const termGraceMs = 5_000;
const killGraceMs = 2_000;

/**
 * Starts the project's server on this machine, the way the host will (same serverCommand), on a
 * free loopback port. It runs in its own process group (`detached`), so stop() reaches whatever it
 * forked, not just the shell.
 *
 * Environment: ours, then env.file values, then the command's (PORT, HOST, RELEASE_ID, runtime.env)
 * last, so a PORT=8000 in a .env file cannot make the server listen where we do not look.
 */
export async function startLocalServer(
  config: Pick<Config, 'source' | 'runtime' | 'env'>,
  options: StartOptions = {},
): Promise<LocalServer> {
  const port = await freePort();
  const fileValues = config.env.file === undefined ? {} : await readEnvFile(config.env.file);
  const { script, env } = serverCommand(config.runtime, {
    port,
    release: options.release ?? 'local-validate',
    host,
    ...localRunner(config),
  });
  const child = spawn('sh', ['-c', script], {
    cwd: config.source,
    env: { ...process.env, ...fileValues, ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const onLine = (line: string, stream: 'stdout' | 'stderr') => {
    tail.push(line);
    if (tail.length > tailLines) tail.shift();
    options.onLine?.(line, stream);
  };
  const out = splitLines((line) => onLine(line, 'stdout'));
  const err = splitLines((line) => onLine(line, 'stderr'));
  child.stdout.on('data', out.push);
  child.stderr.on('data', err.push);
  // Settled on 'close', when every output line has been delivered; but a forked child may hold the
  // pipes open after the server itself died, so 'exit' settles it too after a short grace.
  const exited = new Promise<ServerExit>((resolve) => {
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      out.end();
      err.end();
      resolve({ code, signal });
    };
    child.on('close', settle);
    child.on('exit', (code, signal) => setTimeout(() => settle(code, signal), 1_000).unref());
  });
  await once(child, 'spawn');
  const pid = child.pid!;

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopGroup(pid, exited);
    return stopping;
  };
  return { pid, port, baseUrl: `http://${host}:${port}`, exited, outputTail: () => [...tail], stop };
}

async function stopGroup(pid: number, exited: Promise<ServerExit>): Promise<void> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const gone = () => done && !groupAlive(pid);
  signalGroup(pid, 'SIGTERM');
  if (await waitFor(gone, termGraceMs)) return;
  signalGroup(pid, 'SIGKILL');
  if (await waitFor(gone, killGraceMs)) return;
  throw new Error(`The local server's process group ${pid} is still running after SIGKILL.`);
}

/** True while any process of the group exists (kill with signal 0 only checks). */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (condition()) return true;
    await sleep(25);
  }
  return condition();
}

/** A port the kernel just handed out and released; another process could take it first, rarely. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}
