import type { Fetch } from './channel.js';

/**
 * POSTs a JSON body and rejects unless the receiver answered 2xx. Redirects are not followed: a
 * webhook that moved should be fixed in the config, not have a signed body chased to another host.
 */
export async function postJson(
  fetchFn: Fetch,
  url: string,
  body: string,
  headers: Readonly<Record<string, string>>,
  signal: AbortSignal,
): Promise<void> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'mcp-deploy', ...headers },
      body,
      signal,
      redirect: 'manual',
    });
  } catch (error) {
    throw new Error(describeFetchError(error));
  }
  // Read the body even on success, so the connection is freed; on failure it says why
  // (Slack answers "invalid_token", Discord a JSON error).
  const text = await response.text().catch(() => '');
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${snippet(text)}`);
  }
}

/** undici says only "fetch failed"; the reason (ECONNREFUSED, a TLS error) is in the cause. */
function describeFetchError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause: unknown = error.cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    const reason = cause.message || (typeof code === 'string' ? code : cause.name);
    return `${error.message}: ${reason}`;
  }
  return error.message;
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (oneLine.length === 0) return '';
  return `: ${oneLine.length > 200 ? `${oneLine.slice(0, 199)}…` : oneLine}`;
}
