import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../config/load.js';
import type { McpCheck } from '../config/schema.js';
import { DeployError } from '../errors.js';
import { probeHttp } from './http-probe.js';
import { probeMcp, type McpProbeResult } from './mcp-probe.js';
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
 * Polls the HTTP checks, then the MCP probe, with backoff (100 ms doubling to 1 s) until one
 * attempt passes them all, and returns that attempt's MCP result. A ProbeConfigError ends the wait
 * at once (waiting cannot fix a wrong path); anything else is retried until the deadline, which
 * bounds every attempt too.
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
    let passed = 0;
    try {
      const probeOptions = {
        timeoutMs: Math.max(1, Math.round(remaining)),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.headers ? { headers: options.headers } : {}),
      };
      for (const check of health.http) {
        await probeHttp(baseUrl, [check], probeOptions);
        passed += 1;
      }
      const result = await probeMcp(baseUrl, mcp, { ...probeOptions, ...(options.contract ? { contract: true } : {}) });
      options.onAttempt?.({ attempt, passed: total, total });
      return result;
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (error instanceof ProbeConfigError) throw error;
      lastFailure = error instanceof Error ? error.message : String(error);
      options.onAttempt?.({ attempt, passed, total, failure: lastFailure });
    }
    const pause = Math.min(delay, deadline - performance.now());
    if (pause > 0) {
      await sleep(pause, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => {
        throw options.signal?.reason;
      });
    }
    delay = Math.min(delay * 2, maxDelayMs);
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
