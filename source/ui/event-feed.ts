import type { EngineEvent, Listener, LogSource } from '../run/events.js';
import { LogStore } from './log-store.js';
import { emptyRun, reduceRun, type RunModel } from './run-model.js';

export type FeedOptions = {
  /** Lines the log pane keeps. */
  readonly capacity?: number;
  /** How long changes are gathered before the app re-renders: ~10 renders a second at most. */
  readonly flushMs?: number;
};

/**
 * Between the engine's bus and React. Every event is applied at once (log lines into the ring,
 * step events into the checklist model), but subscribers hear about it at most once per
 * `flushMs`: a server printing thousands of lines a second, or an upload reporting every chunk,
 * costs one render per flush, not one per event.
 */
export class EventFeed {
  readonly logs: LogStore;
  #run: RunModel = emptyRun;
  #version = 0;
  #timer: NodeJS.Timeout | null = null;
  readonly #flushMs: number;
  readonly #listeners = new Set<() => void>();
  readonly #unsubscribe: () => void;

  constructor(events: { on(listener: Listener): () => void }, options: FeedOptions = {}) {
    this.logs = new LogStore(options.capacity ?? 2_000);
    this.#flushMs = options.flushMs ?? 100;
    this.#unsubscribe = events.on((event) => this.apply(event));
  }

  get run(): RunModel {
    return this.#run;
  }

  apply(event: EngineEvent): void {
    if (event.kind === 'log') this.logs.push(event.source, event.line);
    else this.#run = reduceRun(this.#run, event);
    this.#changed();
  }

  /** Lines that do not come from the bus: the log followed after a run, the app's own notes. */
  pushLog(source: LogSource, line: string): void {
    this.logs.push(source, line);
    this.#changed();
  }

  /** A fresh checklist for the next run (a rollback started from the releases browser). */
  resetRun(): void {
    this.#run = emptyRun;
    this.#changed();
  }

  /** For useSyncExternalStore: a number that changes once per flush. */
  readonly getVersion = (): number => this.#version;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  dispose(): void {
    this.#unsubscribe();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#listeners.clear();
  }

  #changed(): void {
    if (this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#version += 1;
      for (const listener of this.#listeners) listener();
    }, this.#flushMs);
  }
}
