/**
 * nginx's access log, read for what each colour served: the log must carry `$status`,
 * `$upstream_addr` and `$request_time` (docs/config.md#watch gives the format). A line belongs to
 * a colour by its upstream address, `127.0.0.1:<port>`; lines of other sites in the same log name
 * other addresses (or none) and are not counted. Pure: the reading is done elsewhere.
 */

export type AccessLine = {
  /** The port of the upstream that answered (the last one when nginx tried several). */
  readonly port: number;
  readonly status: number | null;
  /** `$request_time` in ms, when the line has one. */
  readonly ms: number | null;
};

const upstreamAddress = /127\.0\.0\.1:(\d{1,5})/g;

/** One line, or null when it names no loopback upstream. */
export function parseAccessLine(line: string): AccessLine | null {
  let last: RegExpExecArray | null = null;
  let first: RegExpExecArray | null = null;
  for (const match of line.matchAll(upstreamAddress)) {
    first ??= match;
    last = match;
  }
  if (first === null || last === null) return null;
  // $status is the first three-digit field before the upstream address in our format; fall back
  // to any " 5xx " in the line for combined-style formats.
  const before = line.slice(0, first.index);
  const status = /(?:^|\s)([1-5]\d\d)(?=\s|$)/.exec(before)?.[1] ?? /(?:^|\s)([1-5]\d\d)\s/.exec(line)?.[1];
  const after = line.slice(last.index + last[0].length);
  const time = /\s(\d+\.\d{3})(?:\s|$)/.exec(after)?.[1];
  return {
    port: Number(last[1]),
    status: status === undefined ? null : Number(status),
    ms: time === undefined ? null : Number(time) * 1000,
  };
}

/**
 * What one colour served in a stretch of the log. `times` are ms, unsorted; `okTimes` are those of
 * the answers that were not 5xx (a failing release answers its errors fast: its latency is no
 * baseline).
 */
export type PortTally = { requests: number; errors: number; times: number[]; okTimes: number[] };

/** Tallies every line by the port that answered it. */
export function tallyByPort(text: string): Map<number, PortTally> {
  const tallies = new Map<number, PortTally>();
  for (const line of text.split('\n')) {
    const parsed = parseAccessLine(line);
    if (parsed === null) continue;
    const tally = tallies.get(parsed.port) ?? { requests: 0, errors: 0, times: [], okTimes: [] };
    const failed = parsed.status !== null && parsed.status >= 500;
    tally.requests += 1;
    if (failed) tally.errors += 1;
    if (parsed.ms !== null) tally.times.push(parsed.ms);
    if (parsed.ms !== null && !failed) tally.okTimes.push(parsed.ms);
    tallies.set(parsed.port, tally);
  }
  return tallies;
}

/** The q-quantile (0..1) of `values` by the nearest-rank rule, or null for none. Sorts a copy. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * q) - 1))]!;
}

/**
 * A bounded summary of many latencies: counts in buckets that grow by a quarter each, from 1 ms
 * to about 10 minutes. Quantiles read from it are the bucket's upper bound (at most 25% high), and
 * it stays 60 numbers however many requests it has seen, so it can be kept on the host between
 * `monitor` runs.
 */
export type LatencyHistogram = { readonly counts: number[] };

const bucketGrowth = 1.25;
const bucketCount = 60;

export function emptyHistogram(): LatencyHistogram {
  return { counts: new Array<number>(bucketCount).fill(0) };
}

function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(bucketCount - 1, Math.ceil(Math.log(ms) / Math.log(bucketGrowth)));
}

export function addToHistogram(histogram: LatencyHistogram, values: readonly number[]): void {
  for (const value of values) histogram.counts[bucketOf(value)] = (histogram.counts[bucketOf(value)] ?? 0) + 1;
}

export function histogramQuantile(histogram: LatencyHistogram, q: number): number | null {
  const total = histogram.counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(total * q));
  let seen = 0;
  for (let index = 0; index < histogram.counts.length; index += 1) {
    seen += histogram.counts[index] ?? 0;
    if (seen >= rank) return Math.round(bucketGrowth ** index);
  }
  return Math.round(bucketGrowth ** (bucketCount - 1));
}

/** Requests, 5xx answers and the latencies of the answers that did not fail, of one release over a stretch of time, bounded in size. */
export type TrafficWindow = { requests: number; errors: number; latency: LatencyHistogram };

export function emptyWindow(): TrafficWindow {
  return { requests: 0, errors: 0, latency: emptyHistogram() };
}

export function addToWindow(window: TrafficWindow, tally: PortTally): void {
  window.requests += tally.requests;
  window.errors += tally.errors;
  addToHistogram(window.latency, tally.okTimes);
}

/** How many latencies the histogram holds. */
export function histogramCount(histogram: LatencyHistogram): number {
  return histogram.counts.reduce((sum, count) => sum + count, 0);
}
