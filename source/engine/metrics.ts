import { quantile } from './access-log.js';
import type { ProcessTree } from './sample-script.js';

/**
 * The arithmetic of a status sample, kept pure: CPU as a rate between two readings of the same
 * process tree, and latency quantiles over a bounded ring of recent probes.
 */

export type TreeReading = ProcessTree & {
  /** Host time of the reading, epoch seconds. */
  readonly at: number;
  readonly clockTicks: number;
};

/** CPU use of a process tree between two readings, in percent of one core; null when they are not the same tree. */
export function cpuPercent(before: TreeReading | undefined, after: TreeReading | undefined): number | null {
  if (before === undefined || after === undefined) return null;
  if (before.pid !== after.pid || before.startTicks !== after.startTicks || after.at <= before.at) return null;
  // A child that exited takes its CPU time with it: the tree's total can shrink. Not below zero.
  const seconds = Math.max(0, after.cpuTicks - before.cpuTicks) / after.clockTicks;
  return (seconds / (after.at - before.at)) * 100;
}

/** The last `capacity` values, oldest first: what a sparkline or a quantile over "the last minutes" reads. */
export class Ring<T> {
  readonly #items: T[] = [];
  constructor(readonly capacity: number) {}

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.splice(0, this.#items.length - this.capacity);
  }

  values(): readonly T[] {
    return this.#items;
  }
}

/** p50 and p99 of the values in `ring` that are numbers. */
export function percentiles(values: readonly (number | null)[]): { p50Ms: number | null; p99Ms: number | null } {
  const numbers = values.filter((value): value is number => value !== null);
  const p50 = quantile(numbers, 0.5);
  const p99 = quantile(numbers, 0.99);
  return { p50Ms: p50 === null ? null : Math.round(p50), p99Ms: p99 === null ? null : Math.round(p99) };
}
