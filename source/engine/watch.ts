import type { WatchConfig } from '../config/schema.js';
import { DeployError } from '../errors.js';
import type { Transport } from '../remote/transport.js';

/**
 * The post-cutover watch window: after the switch and before the old colour is stopped, read what
 * nginx logged for the new upstream and switch back if it errs or is slow. The access log must
 * carry `$status`, `$upstream_addr` and `$request_time` (the format in docs/operations.md); lines
 * are matched by the new colour's `127.0.0.1:<port>`, so other sites in the same log do not count.
 */

export type WatchSample = { readonly requests: number; readonly errors: number; readonly p99Ms: number | null };

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

/** Pure: counts the lines served by 127.0.0.1:<port>, 5xx answers among them, and the p99 of $request_time. */
export function summarize(text: string, port: number): WatchSample {
  const upstream = `127.0.0.1:${port}`;
  let requests = 0;
  let errors = 0;
  const times: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(upstream)) continue;
    // $status is the first three-digit field before the upstream address in our format; fall
    // back to any " 5xx " in the line for combined-style formats.
    const status = /(?:^|\s)([1-5]\d\d)\s/.exec(line)?.[1];
    requests += 1;
    if (status?.startsWith('5')) errors += 1;
    const afterUpstream = line.slice(line.indexOf(upstream) + upstream.length);
    const time = /\s(\d+\.\d{3})(?:\s|$)/.exec(afterUpstream)?.[1];
    if (time !== undefined) times.push(Number(time) * 1000);
  }
  times.sort((a, b) => a - b);
  const p99Ms = times.length === 0 ? null : times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!;
  return { requests, errors, p99Ms };
}

/** Null when the window is within bounds; otherwise why it is not. */
export function judge(sample: WatchSample, watch: WatchConfig): string | null {
  if (sample.requests > 0 && sample.errors / sample.requests > watch.maxErrorRate) {
    return `${sample.errors} of ${sample.requests} requests through nginx failed (${Math.round((sample.errors / sample.requests) * 100)}% > ${Math.round(watch.maxErrorRate * 100)}%)`;
  }
  if (watch.maxP99Ms !== undefined && sample.p99Ms !== null && sample.p99Ms > watch.maxP99Ms) {
    return `p99 latency through nginx was ${Math.round(sample.p99Ms)} ms (> ${watch.maxP99Ms} ms)`;
  }
  return null;
}
