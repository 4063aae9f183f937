import type { HostOverview, StatusSample } from './engine-port.js';

/**
 * The dashboard's memory: the last samples (a bounded ring, wide enough for the widest
 * terminal's sparklines), and why sampling stopped if it did. React reads it through
 * useSyncExternalStore: one render per sample.
 */
export class DashboardStore {
  #samples: StatusSample[] = [];
  #failure: string | null = null;
  #version = 0;
  readonly #listeners = new Set<() => void>();

  constructor(readonly capacity = 600) {}

  get samples(): readonly StatusSample[] {
    return this.#samples;
  }

  get failure(): string | null {
    return this.#failure;
  }

  push(sample: StatusSample): void {
    this.#samples.push(sample);
    if (this.#samples.length > this.capacity) this.#samples = this.#samples.slice(-this.capacity);
    this.#failure = null;
    this.#changed();
  }

  fail(message: string): void {
    this.#failure = message;
    this.#changed();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getVersion = (): number => this.#version;

  #changed(): void {
    this.#version += 1;
    for (const listener of this.#listeners) listener();
  }
}

/** What the app's header shows, from a sample: it stays as live as the pictures. */
export function overviewOf(sample: StatusSample, app: string): HostOverview {
  return {
    host: sample.host,
    state: sample.active === null ? null : { version: 1, app, active: sample.active, previous: sample.previous, updatedAt: sample.at },
    lock: sample.lock,
  };
}
