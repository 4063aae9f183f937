import { ProbeRetryableError } from './probe-errors.js';

/**
 * One signal for a whole probe: the caller's (Ctrl-C, deploy abort) and the probe's own deadline.
 * `timedOut` tells the two apart, because a deadline is "no answer yet" (retryable) while the
 * caller's abort must end the poll.
 */
export function probeSignal(options: { readonly signal?: AbortSignal; readonly timeoutMs?: number }): {
  signal: AbortSignal;
  timedOut: (error: unknown, what: string) => ProbeRetryableError | undefined;
} {
  const deadline = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  return {
    signal,
    timedOut: (error, what) =>
      deadline.aborted && options.signal?.aborted !== true
        ? new ProbeRetryableError(`${what}: no answer within ${options.timeoutMs ?? 10_000} ms`, { cause: error })
        : undefined,
  };
}

/**
 * Appends a check's path to a base URL, keeping the base's own path: a public URL like
 * https://example.org/tools plus "/mcp" is https://example.org/tools/mcp (new URL() would drop
 * "/tools").
 */
export function endpointUrl(baseUrl: string, path: string): string {
  const base = new URL(baseUrl);
  const query = path.indexOf('?');
  base.pathname = `${base.pathname.replace(/\/+$/, '')}${query === -1 ? path : path.slice(0, query)}`;
  base.search = query === -1 ? '' : path.slice(query);
  return base.href;
}
