import { render } from 'ink';
import type { ReactElement } from 'react';
import { App } from './app.js';
import type { AppEngine, AppView } from './engine-port.js';

export type { AppEngine, AppView, Failure, FollowRequest, ReleasesListing } from './engine-port.js';

export type RenderAppOptions = {
  readonly view: AppView;
  readonly release?: string;
  readonly color: boolean;
  readonly logs?: { readonly nginx?: boolean; readonly lines?: number };
  readonly dashboard?: { readonly intervalMs: number };
  /** Streams to draw on and read keys from; the process's own by default (tests pass fakes). */
  readonly stdout?: NodeJS.WriteStream;
  readonly stdin?: NodeJS.ReadStream;
};

/**
 * The one door into the terminal app (nothing outside source/ui imports Ink or React): draws it,
 * waits until it exits, and returns its exit code. The terminal is given back in every case,
 * including a crash inside a component.
 */
export async function renderApp(engine: AppEngine, options: RenderAppOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stdin = options.stdin ?? process.stdin;
  return drawUntilExit(
    <App
      engine={engine}
      view={options.view}
      color={options.color}
      {...(options.release ? { release: options.release } : {})}
      {...(options.logs ? { logs: options.logs } : {})}
      {...(options.dashboard ? { dashboard: options.dashboard } : {})}
    />,
    stdin,
    stdout,
  );
}

/** Draws an app until it exits and returns its exit code; the terminal is given back in every case. */
export async function drawUntilExit(element: ReactElement, stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): Promise<number> {
  const instance = render(element, {
    stdout,
    stdin,
    stderr: process.stderr,
    // Ctrl-C must reach the app: a deploy stops safely (rollback, unlock) rather than dying mid-switch.
    exitOnCtrlC: false,
    patchConsole: true,
  });
  try {
    const code: unknown = await instance.waitUntilExit();
    return typeof code === 'number' ? code : 0;
  } finally {
    instance.cleanup();
    restoreTerminal(stdin, stdout);
  }
}

/** Ink restores raw mode and the cursor when it unmounts; this covers the paths where it could not. */
export function restoreTerminal(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): void {
  try {
    if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
    stdin.pause();
  } catch {
    // A closed stdin has nothing left to restore.
  }
  if (stdout.isTTY) stdout.write('\u001B[?25h');
}
