/**
 * How the log pane copes with a flood: 100,000 lines pushed as fast as the event loop allows
 * into the real app (logs view), drawn by Ink on a fake 100×40 terminal. Prints lines absorbed
 * per second, CPU time, peak RSS and how many frames were written: numbers to compare between
 * changes, never assertions (timings depend on the machine).
 *
 * Run it against the build (it is plain TypeScript without JSX, so Node can strip the types):
 *
 *   npm run build && node_modules/.bin/node --experimental-strip-types bench/log-pane-bench.ts [lines]
 */
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { render } from 'ink';
import { createElement } from 'react';
import type { AppEngine } from '../source/ui/engine-port.js';

type AppModule = typeof import('../source/ui/app.js');
type EventsModule = typeof import('../source/run/events.js');

const root = join(fileURLToPath(import.meta.url), '..', '..');
// From dist/ at run time (Node cannot load the .tsx sources); typed from source/ for tsc.
const fromDist = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(root, 'dist', path)).href)) as T;
const { App } = await fromDist<AppModule>('ui/app.js');
const { EventBus } = await fromDist<EventsModule>('engine/events.js');

const total = Number.parseInt(process.argv[2] ?? '100000', 10) || 100_000;
/** Lines per chunk before yielding: roughly what one network read of a chatty server delivers. */
const chunk = 500;

class FakeTerminal extends EventEmitter {
  readonly isTTY = true;
  readonly columns = 100;
  readonly rows = 40;
  frames = 0;
  bytes = 0;
  write(data: string, callback?: () => void): boolean {
    if (data !== '') {
      this.frames += 1;
      this.bytes += Buffer.byteLength(data);
    }
    callback?.();
    return true;
  }
}

class FakeKeyboard extends EventEmitter {
  readonly isTTY = true;
  isRaw = false;
  setRawMode(enabled: boolean): void {
    this.isRaw = enabled;
  }
  setEncoding(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
  read(): null {
    return null;
  }
}

const startRss = process.memoryUsage().rss;
let peakRss = startRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

let absorbed = 0;
let finished!: (ms: number) => void;
const done = new Promise<number>((resolve) => (finished = resolve));
const stopped = new AbortController();

const engine: AppEngine = {
  app: 'bench',
  target: 'bench',
  events: new EventBus(),
  signal: stopped.signal,
  interrupt: () => stopped.abort(),
  plan: () => Promise.reject(new Error('not in this bench')),
  deploy: () => Promise.reject(new Error('not in this bench')),
  rollback: () => Promise.reject(new Error('not in this bench')),
  overview: async () => ({ host: 'bench', state: null, lock: { held: false } }),
  releases: () => Promise.reject(new Error('not in this bench')),
  watchStatus: () => Promise.reject(new Error('not in this bench')),
  followLog: async (request) => {
    const started = performance.now();
    while (absorbed < total) {
      const end = Math.min(total, absorbed + chunk);
      for (; absorbed < end; absorbed += 1) {
        request.onLine(
          `2026-11-24T10:15:00.${String(absorbed % 1000).padStart(3, '0')}Z INFO request ${absorbed} GET /mcp 200 in 3 ms`,
          'server',
        );
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    finished(performance.now() - started);
    await new Promise((resolve) => request.signal.addEventListener('abort', resolve, { once: true }));
  },
  failure: (error) => ({ exitCode: 1, message: String(error) }),
};

const terminal = new FakeTerminal();
const cpuBefore = process.cpuUsage();
const instance = render(createElement(App, { engine, view: 'logs', color: true }), {
  stdout: terminal as unknown as NodeJS.WriteStream,
  stdin: new FakeKeyboard() as unknown as NodeJS.ReadStream,
  stderr: terminal as unknown as NodeJS.WriteStream,
  interactive: true,
  exitOnCtrlC: false,
  patchConsole: false,
});

const ms = await done;
// Let the last batch reach the screen, as an operator would see it.
await new Promise((resolve) => setTimeout(resolve, 250));
const cpu = process.cpuUsage(cpuBefore);
instance.unmount();
await instance.waitUntilExit().catch(() => {});
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} kB`;
process.stdout.write(
  [
    `log pane bench: ${total.toLocaleString('en')} lines, chunks of ${chunk}`,
    `  absorbed in      ${ms.toFixed(0)} ms  (${Math.round(total / (ms / 1000)).toLocaleString('en')} lines/s)`,
    `  CPU time         user ${(cpu.user / 1000).toFixed(0)} ms, system ${(cpu.system / 1000).toFixed(0)} ms`,
    `  peak RSS         ${mb(peakRss)} (${mb(startRss)} before the app started)`,
    `  frames written   ${terminal.frames} (${kb(terminal.bytes)})`,
    '',
  ].join('\n'),
);
