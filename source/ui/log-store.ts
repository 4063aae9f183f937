import type { LogSource } from '../run/events.js';

export type LogEntry = {
  /** Increases by one per line ever pushed: how the pane keeps its place while lines roll off. */
  readonly seq: number;
  readonly source: LogSource;
  readonly text: string;
};

/** A single line longer than this is cut: one runaway line must not cost megabytes. */
export const maxLineLength = 1_000;

/**
 * The log pane's memory: the last `capacity` lines in a ring, so a server printing thousands of
 * lines a second costs a fixed amount of memory however long the app runs. Writes are O(1) and
 * never touch React; the pane reads a snapshot when it renders.
 */
export class LogStore {
  readonly capacity: number;
  readonly #ring: (LogEntry | undefined)[];
  #next = 0;
  #total = 0;

  constructor(capacity = 2_000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`log capacity must be a positive integer, not ${capacity}`);
    this.capacity = capacity;
    this.#ring = new Array<LogEntry | undefined>(capacity);
  }

  /** Lines ever pushed, including those that rolled off. */
  get total(): number {
    return this.#total;
  }

  /** Lines held now. */
  get size(): number {
    return Math.min(this.#total, this.capacity);
  }

  push(source: LogSource, line: string): void {
    this.#ring[this.#next] = { seq: this.#total, source, text: cleanLine(line) };
    this.#next = (this.#next + 1) % this.capacity;
    this.#total += 1;
  }

  /** The held lines, oldest first; with a filter, only those containing it (case-insensitive). */
  entries(filter = ''): LogEntry[] {
    const size = this.size;
    const start = this.#total > this.capacity ? this.#next : 0;
    const needle = filter.toLowerCase();
    const result: LogEntry[] = [];
    for (let offset = 0; offset < size; offset += 1) {
      const entry = this.#ring[(start + offset) % this.capacity];
      if (entry === undefined) continue;
      if (needle === '' || entry.text.toLowerCase().includes(needle)) result.push(entry);
    }
    return result;
  }
}

/**
 * What a terminal may safely show of a remote line: colour codes and cursor movements from a
 * server's log would fight the app's own drawing, and tabs would break the column count.
 */
export function cleanLine(line: string): string {
  const plain = line
    // CSI and OSC sequences, then any other escape or control character.
    .replace(/\u001B\[[0-?]*[ -/]*[@-~]/g, '')
    .replace(/\u001B\][^\u0007\u001B]*(?:\u0007|\u001B\\)/g, '')
    .replace(/\t/g, '  ')
    .replace(/[\u0000-\u001F\u007F-\u009F]/g, '');
  return plain.length > maxLineLength ? `${plain.slice(0, maxLineLength)}…` : plain;
}
