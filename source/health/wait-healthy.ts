import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/load.js';
import type { McpCheck } from '../config/schema.js';
import { DeployError } from '../errors.js';
import { probeHttp } from './http-probe.js';
import { probeMcp, type McpProbeOptions, type McpProbeResult } from './mcp-probe.js';
import { ProbeConfigError } from './probe-errors.js';

export type HealthAttempt = {
  readonly attempt: number;
  /** Checks that passed in this attempt, out of `total` (each HTTP route and the MCP probe count one). */
  readonly passed: number;
  readonly total: number;
  /** Why this attempt failed; absent when it passed. */
  readonly failure?: string;
};

export type WaitHealthyOptions = {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly onAttempt?: (attempt: HealthAttempt) => void;
  readonly headers?: Readonly<Record<string, string>>;
  /** Read the server's whole MCP contract on the attempt that passes (see probeMcp). */
  readonly contract?: boolean;
  /** The era this very server negotiated before (the health step's, for verify): see probeMcp's `knownEra`. */
  readonly knownEra?: 'legacy' | 'modern';
};

/** The server did not pass its checks in time; `lastFailure` is the reason of the last attempt. */
export class HealthTimeoutError extends DeployError {
  constructor(
    readonly lastFailure: string,
    timeoutMs: number,
    attempts: number,
  ) {
    super('deploy', `Not healthy after ${formatSeconds(timeoutMs)} (${attempts} attempts); last failure: ${lastFailure}`, {
      hint: 'Raise health.timeoutSeconds if the server is just slow to start, or read its log.',
    });
    this.name = 'HealthTimeoutError';
  }
}

/** Used when `health.mcp` is not configured: this deploys MCP servers, so MCP is always checked. */
const defaultMcpCheck: McpCheck = { path: '/mcp', expectTools: [], calls: [] };

const firstDelayMs = 100;
const maxDelayMs = 1_000;
const minAttemptMs = 250;

/**
 * Polls the HTTP checks and the MCP probe, with backoff (100 ms doubling to 1 s) until one
 * attempt passes them all, and returns that attempt's MCP result. The checks of an attempt run at
 * once, each over its own connection (no check waits for another's round trips). A ProbeConfigError ends the wait at once (waiting cannot fix a wrong
 * path); anything else is retried until the deadline, which bounds every attempt too.
 */
export async function waitHealthy(baseUrl: string, health: Config['health'], options: WaitHealthyOptions): Promise<McpProbeResult> {
  const deadline = performance.now() + options.timeoutMs;
  const mcp = health.mcp ?? defaultMcpCheck;
  const total = health.http.length + 1;
  let delay = firstDelayMs;
  let lastFailure = 'no attempt finished';
  let attempt = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const remaining = deadline - performance.now();
    // A last attempt squeezed into a few milliseconds could only fail with "no answer within 2 ms"
    // and hide the real reason of the one before; the first attempt always runs.
    if (remaining <= 0 || (attempt > 0 && remaining < minAttemptMs)) throw new HealthTimeoutError(lastFailure, options.timeoutMs, attempt);
    attempt += 1;
    const outcome = await runAttempt(baseUrl, health.http, mcp, {
      timeoutMs: Math.max(1, Math.round(remaining)),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.contract ? { contract: true } : {}),
      ...(options.knownEra ? { knownEra: options.knownEra } : {}),
    });
    if ('result' in outcome) {
      options.onAttempt?.({ attempt, passed: total, total });
      return outcome.result;
    }
    if (options.signal?.aborted) throw options.signal.reason;
    if (outcome.error instanceof ProbeConfigError) throw outcome.error;
    lastFailure = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    options.onAttempt?.({ attempt, passed: outcome.passed, total, failure: lastFailure });
    const pause = Math.min(delay, deadline - performance.now());
    if (pause > 0) {
      await sleep(pause, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => {
        throw options.signal?.reason;
      });
    }
    delay = Math.min(delay * 2, maxDelayMs);
  }
}

type AttemptOptions = McpProbeOptions & { readonly timeoutMs: number };

/**
 * One attempt: every HTTP route and the MCP probe at once. Passed: the MCP result. Failed: the
 * first failure in the configured order (the routes, then MCP), and how many checks passed. The
 * checks run to their end whichever fails first, so what an attempt reports does not depend on
 * which answer came first.
 */
async function runAttempt(
  baseUrl: string,
  routes: Config['health']['http'],
  mcp: McpCheck,
  options: AttemptOptions,
): Promise<{ readonly result: McpProbeResult } | { readonly error: unknown; readonly passed: number }> {
  const checks = await Promise.allSettled([
    ...routes.map((route) => probeHttp(baseUrl, [route], options)),
    probeMcp(baseUrl, mcp, options),
  ]);
  const probed = checks.at(-1);
  const failed = checks.find((check): check is PromiseRejectedResult => check.status === 'rejected');
  if (failed === undefined && probed?.status === 'fulfilled') return { result: probed.value as McpProbeResult };
  return { error: failed?.reason, passed: checks.filter((check) => check.status === 'fulfilled').length };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
