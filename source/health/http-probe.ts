import { isDeepStrictEqual } from 'node:util';
import type { HttpCheck } from '../config/schema.js';
import { endpointUrl, probeSignal } from './probe-signal.js';
import { configErrorForStatus, networkError, ProbeCheckError, truncate } from './probe-errors.js';
import { probeUserAgent } from './probe-agent.js';
import { probeConnections } from './probe-connections.js';

export type ProbeOptions = {
  readonly signal?: AbortSignal;
  /** Bound for the whole probe (every route). */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
};

/**
 * GETs each route and compares the status exactly and, when `json` is given, each listed
 * top-level field by deep equality. Redirects are not followed, so a check sees what the server
 * really answered. Throws a ProbeConfigError, ProbeRetryableError or ProbeCheckError (see
 * probe-errors.ts) naming the route, what was expected and what came back.
 */
export async function probeHttp(baseUrl: string, checks: readonly HttpCheck[], options: ProbeOptions = {}): Promise<{ ms: number }> {
  const started = performance.now();
  const { signal, timedOut } = probeSignal(options);
  const connections = probeConnections();
  try {
    await probeRoutes(baseUrl, checks, signal, timedOut, connections.fetch, options.headers);
  } finally {
    await connections.close();
  }
  return { ms: Math.round(performance.now() - started) };
}

async function probeRoutes(
  baseUrl: string,
  checks: readonly HttpCheck[],
  signal: AbortSignal,
  timedOut: ReturnType<typeof probeSignal>['timedOut'],
  fetch: typeof globalThis.fetch,
  headers: ProbeOptions['headers'],
): Promise<void> {
  for (const check of checks) {
    const url = endpointUrl(baseUrl, check.path);
    let response: Response;
    let body: string;
    try {
      response = await fetch(url, {
        method: 'GET',
        redirect: 'manual',
        signal,
        headers: { accept: 'application/json, */*', 'user-agent': probeUserAgent, ...headers },
      });
      body = await response.text();
    } catch (error) {
      throw timedOut(error, `GET ${url}`) ?? networkError(error, 'GET', url);
    }
    if (response.status !== check.status) {
      throw (
        configErrorForStatus(response.status, 'GET', url, response.headers.get('location')) ??
        new ProbeCheckError(
          `GET ${check.path}: expected status ${check.status}, got ${response.status}${body === '' ? '' : `: ${truncate(body)}`}`,
        )
      );
    }
    if (check.json !== undefined) compareJson(check.path, check.json, body);
  }
}

function compareJson(path: string, expected: Readonly<Record<string, unknown>>, body: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ProbeCheckError(`GET ${path}: expected a JSON body, got ${body === '' ? 'an empty body' : truncate(body)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ProbeCheckError(`GET ${path}: expected a JSON object, got ${truncate(body)}`);
  }
  const actual = parsed as Record<string, unknown>;
  const wrong = Object.entries(expected)
    .filter(([key, value]) => !(key in actual) || !isDeepStrictEqual(actual[key], value))
    .map(
      ([key, value]) =>
        `"${key}": expected ${truncate(JSON.stringify(value), 80)}, got ${key in actual ? truncate(JSON.stringify(actual[key]), 80) : 'nothing'}`,
    );
  if (wrong.length > 0) throw new ProbeCheckError(`GET ${path}: ${wrong.join('; ')}`);
}
