import { histogramCount, histogramQuantile, type TrafficWindow } from './access-log.js';

/**
 * Whether the release deployed last is worse than the one before it: its traffic through nginx
 * since it took over, compared with what the release before it served. Too few requests on
 * either side judge nothing (a quiet server is not a slow one).
 */

export type WindowFigures = {
  readonly requests: number;
  readonly errors: number;
  readonly errorRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
};

export type Comparison = {
  /** The release serving now, and the one before it (null when unknown). */
  readonly release: string | null;
  readonly before: string | null;
  readonly since: WindowFigures;
  readonly prior: WindowFigures;
  /** Latency now relative to before (0.5 is 50% slower) at `measure`; null when either side has too few answers. */
  readonly slowdown: number | null;
  /**
   * Which quantile was compared: p99 once both sides have `p99Answers` answers that did not fail,
   * p50 before that (with a few dozen answers, p99 is the slowest one: a cold start, not a trend).
   */
  readonly measure: 'p50' | 'p99';
  /** What is worse, in words; empty when nothing is (or nothing can be told yet). */
  readonly findings: readonly string[];
};

/** Answers on each side from which the p99, not the p50, is compared. */
export const p99Answers = 100;

export function figures(window: TrafficWindow): WindowFigures {
  return {
    requests: window.requests,
    errors: window.errors,
    errorRate: window.requests === 0 ? null : window.errors / window.requests,
    p50Ms: histogramQuantile(window.latency, 0.5),
    p99Ms: histogramQuantile(window.latency, 0.99),
  };
}

export function compareWindows(
  since: TrafficWindow,
  prior: TrafficWindow,
  options: { readonly release: string | null; readonly before: string | null; readonly maxSlowdown: number; readonly minRequests: number },
): Comparison {
  const now = figures(since);
  const then = figures(prior);
  const enough = now.requests >= options.minRequests && then.requests >= options.minRequests;
  // Latency is compared over answers that did not fail, and only with enough of them on both sides.
  const timed = histogramCount(since.latency) >= options.minRequests && histogramCount(prior.latency) >= options.minRequests;
  const measure = Math.min(histogramCount(since.latency), histogramCount(prior.latency)) >= p99Answers ? 'p99' : 'p50';
  const nowMs = measure === 'p99' ? now.p99Ms : now.p50Ms;
  const thenMs = measure === 'p99' ? then.p99Ms : then.p50Ms;
  const slowdown = timed && nowMs !== null && thenMs !== null && thenMs > 0 ? nowMs / thenMs - 1 : null;
  const findings: string[] = [];
  const name = options.release ?? 'the release serving now';
  const against = options.before ?? 'the release before it';
  if (slowdown !== null && slowdown > options.maxSlowdown) {
    findings.push(
      `${name} is slower than ${against}: ${measure} ${nowMs} ms vs ${thenMs} ms (+${Math.round(slowdown * 100)}%, more than ${Math.round(options.maxSlowdown * 100)}%)`,
    );
  }
  // More errors: at least twice the share, and at least one point more (0.1% → 0.3% is noise).
  if (enough && now.errorRate !== null && then.errorRate !== null) {
    if (now.errorRate >= Math.max(then.errorRate * 2, then.errorRate + 0.01) && now.errors >= 2) {
      findings.push(`${name} errs more than ${against}: ${percent(now.errorRate)} 5xx vs ${percent(then.errorRate)}`);
    }
  }
  return { release: options.release, before: options.before, since: now, prior: then, slowdown, measure, findings };
}

export function percent(rate: number): string {
  const value = rate * 100;
  return `${value < 10 && value > 0 ? value.toFixed(1) : Math.round(value)}%`;
}
