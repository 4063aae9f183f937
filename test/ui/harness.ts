import { EventEmitter } from 'node:events';
import { render, type Instance } from 'ink';
import type { ReactElement } from 'react';

/**
 * A terminal for Ink tests with a size of our choosing (ink-testing-library's has no rows, so
 * layouts that depend on the height cannot be checked with it). Frames are written whole
 * (Ink's debug mode), so `lastFrame()` is exactly what the screen shows.
 */
export class FakeStdout extends EventEmitter {
  readonly frames: string[] = [];
  isTTY = true;
  constructor(
    public columns: number,
    public rows: number,
  ) {
    super();
  }
  write = (frame: string, callback?: () => void): boolean => {
    // Ink writes '' with a callback to learn that a frame is flushed.
    if (frame !== '') this.frames.push(frame);
    callback?.();
    return true;
  };
  /** The last frame drawn; bare escape sequences (Ink showing the cursor on exit) are not frames. */
  lastFrame(): string {
    for (let index = this.frames.length - 1; index >= 0; index -= 1) {
      const frame = this.frames[index]!;
      if (frame.replace(/\u001B\[[0-9;?]*[A-Za-z]/g, '').trim() !== '') return frame;
    }
    return '';
  }
  resize(columns: number, rows: number): void {
    this.columns = columns;
    this.rows = rows;
    this.emit('resize');
  }
}

export class FakeStdin extends EventEmitter {
  isTTY = true;
  isRaw = false;
  #pending: string[] = [];
  setEncoding(): void {}
  setRawMode(enabled: boolean): void {
    this.isRaw = enabled;
  }
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read = (): string | null => this.#pending.shift() ?? null;
  /** What a key press sends: one chunk, as a terminal would. */
  type(data: string): void {
    this.#pending.push(data);
    this.emit('readable');
  }
}

export const keys = {
  up: '\u001B[A',
  down: '\u001B[B',
  pageUp: '\u001B[5~',
  pageDown: '\u001B[6~',
  end: '\u001B[F',
  home: '\u001B[H',
  enter: '\r',
  escape: '\u001B',
  tab: '\t',
  backspace: '\u007F',
  ctrlC: '\u0003',
} as const;

export type Rendered = {
  readonly stdout: FakeStdout;
  readonly stdin: FakeStdin;
  readonly instance: Instance;
  lastFrame(): string;
  /** Types keys one at a time, letting the app settle after each. */
  press(...sequence: string[]): Promise<void>;
  /** Waits until the last frame satisfies `test`, or fails with that frame. */
  waitFor(test: (frame: string) => boolean, timeoutMs?: number): Promise<string>;
  exitCode(): Promise<number>;
};

export function renderTerminal(tree: ReactElement, size: { columns?: number; rows?: number } = {}): Rendered {
  const stdout = new FakeStdout(size.columns ?? 80, size.rows ?? 30);
  const stdin = new FakeStdin();
  const instance = render(tree, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: new FakeStdout(80, 24) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    debug: true,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  const exit = instance.waitUntilExit().then((value: unknown) => (typeof value === 'number' ? value : 0));
  return {
    stdout,
    stdin,
    instance,
    lastFrame: () => stdout.lastFrame(),
    press: async (...sequence) => {
      for (const data of sequence) {
        stdin.type(data);
        await settle();
      }
    },
    waitFor: async (test, timeoutMs = 3_000) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (test(stdout.lastFrame())) return stdout.lastFrame();
        await sleep(10);
      }
      throw new Error(`timed out waiting for the frame; the last one was:\n${stdout.lastFrame()}`);
    },
    exitCode: () => exit,
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Long enough for a key's state change, one feed flush (20 ms in tests) and a frame. */
export function settle(): Promise<void> {
  return sleep(60);
}
