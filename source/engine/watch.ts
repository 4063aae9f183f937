import type { WatchConfig } from '../config/schema.js';
import { DeployError } from '../errors.js';
import type { Transport } from '../remote/transport.js';
import { quantile, tallyByPort } from './access-log.js';

/**
 * The post-cutover watch window: after the switch and before the old colour is stopped, read what
 * nginx logged for the new upstream and switch back if it errs or is slow. The access log must
 * carry `$status`, `$upstream_addr` and `$request_time` (the format in docs/operations.md); lines
 * are matched by the new colour's `127.0.0.1:<port>`, so other sites in the same log do not count.
 */

export type WatchSample = {
  readonly requests: number;
  readonly errors: number;
  readonly p99Ms: number | null;
  /** Of the answers that were not 5xx: what watch.maxSlowdown compares while there are too few answers for a p99. */
  readonly p50Ms?: number | null;
  /** The p99 of the answers that were not 5xx. */
  readonly okP99Ms?: number | null;
  readonly okAnswers?: number;
};

/** Reads the access log's size now, so the window only counts what comes after the switch. */
export async function accessLogOffset(transport: Transport, file: string): Promise<number> {
  const result = await transport.run(['wc', '-c', file]);
  const size = Number.parseInt(result.stdout.trim().split(/\s+/)[0] ?? '', 10);
  return result.code === 0 && Number.isFinite(size) ? size : 0;
}

export async function readWindow(transport: Transport, file: string, offset: number, port: number): Promise<WatchSample> {
  const result = await transport.run(['tail', '-c', `+${offset + 1}`, file], { timeoutMs: 30_000 });
  if (result.code !== 0) throw new DeployError('deploy', `Could not read nginx's access log ${file}: ${result.stderr.trim()}`);
  return summarize(result.stdout, port);
}

/** How much of the log before the switch is read for `watch.maxSlowdown`'s "before". */
export const beforeBytes = 256 * 1024;

/**
 * The old colour's traffic just before the switch: the last `beforeBytes` before `offset`,
 * for the relative bound (watch.maxSlowdown). Empty when the log cannot be read.
 */
export async function readBefore(transport: Transport, file: string, offset: number, port: number): Promise<WatchSample> {
  const start = Math.max(0, offset - beforeBytes);
  const result = await transport.run(
    { script: 'tail -c +$((start + 1)) -- "$f" | head -c $((end - start))' },
    { env: { f: file, start: String(start), end: String(Math.max(start, offset)) }, timeoutMs: 30_000 },
  );
  if (result.code !== 0) return { requests: 0, errors: 0, p99Ms: null, p50Ms: null, okP99Ms: null, okAnswers: 0 };
  // Started inside a line: that part line is not counted.
  const text = start > 0 ? result.stdout.slice(result.stdout.indexOf('\n') + 1) : result.stdout;
  return summarize(text, port);
}

/** Pure: counts the lines served by 127.0.0.1:<port>, 5xx answers among them, and the p99 of $request_time. */
export function summarize(text: string, port: number): WatchSample {
  const tally = tallyByPort(text).get(port) ?? { requests: 0, errors: 0, times: [], okTimes: [] };
  return {
    requests: tally.requests,
    errors: tally.errors,
    p99Ms: quantile(tally.times, 0.99),
    p50Ms: quantile(tally.okTimes, 0.5),
    okP99Ms: quantile(tally.okTimes, 0.99),
    okAnswers: tally.okTimes.length,
  };
}

/** Fewer answers than this on either side judge no slowdown. */
export const slowdownMinRequests = 10;
/** From this many answers on both sides the p99 is compared; before, the p50 (a p99 of a few dozen is one slow request). */
export const slowdownP99Answers = 100;

/** Null when the window is within bounds; otherwise why it is not. */
export function judge(sample: WatchSample, watch: WatchConfig, before: WatchSample | null = null): string | null {
  if (sample.requests > 0 && sample.errors / sample.requests > watch.maxErrorRate) {
    return `${sample.errors} of ${sample.requests} requests through nginx failed (${Math.round((sample.errors / sample.requests) * 100)}% > ${Math.round(watch.maxErrorRate * 100)}%)`;
  }
  if (watch.maxP99Ms !== undefined && sample.p99Ms !== null && sample.p99Ms > watch.maxP99Ms) {
    return `p99 latency through nginx was ${Math.round(sample.p99Ms)} ms (> ${watch.maxP99Ms} ms)`;
  }
  const slowdown = watch.maxSlowdown === undefined || before === null ? null : compareLatency(sample, before);
  if (watch.maxSlowdown !== undefined && slowdown !== null && slowdown.ratio > 1 + watch.maxSlowdown) {
    const slower = Math.round((slowdown.ratio - 1) * 100);
    return `${slowdown.measure} latency through nginx was ${Math.round(slowdown.nowMs)} ms, ${slower}% above the old release's ${Math.round(slowdown.thenMs)} ms before the switch (more than ${Math.round(watch.maxSlowdown * 100)}%)`;
  }
  return null;
}

/** The new colour's latency against the old one's, over answers that were not 5xx; null with too few of them. */
function compareLatency(
  sample: WatchSample,
  before: WatchSample,
): { measure: 'p50' | 'p99'; nowMs: number; thenMs: number; ratio: number } | null {
  const answers = Math.min(sample.okAnswers ?? 0, before.okAnswers ?? 0);
  if (answers < slowdownMinRequests) return null;
  const measure = answers >= slowdownP99Answers ? 'p99' : 'p50';
  const nowMs = measure === 'p99' ? sample.okP99Ms : sample.p50Ms;
  const thenMs = measure === 'p99' ? before.okP99Ms : before.p50Ms;
  if (nowMs == null || thenMs == null || thenMs <= 0) return null;
  return { measure, nowMs, thenMs, ratio: nowMs / thenMs };
}
