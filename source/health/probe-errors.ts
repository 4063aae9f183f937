import { DeployError } from '../errors.js';

/**
 * How a health probe can fail, so a poller knows whether waiting can help:
 * - ProbeConfigError: the answer shows the check itself is wrong (wrong path, auth, redirect). Waiting
 *   will not change it; stop at once and say what to fix.
 * - ProbeRetryableError: nothing answered yet (refused, reset, timeout, 5xx): the server may still be
 *   starting.
 * - ProbeCheckError: the server answered, but not what the check expects (status, JSON, tools).
 *   Retried until the deadline, since a server may answer early with a "starting" status.
 */
export class ProbeConfigError extends DeployError {
  constructor(
    readonly status: number,
    message: string,
    hint: string,
  ) {
    super('config', message, { hint });
    this.name = 'ProbeConfigError';
  }
}

export class ProbeRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeRetryableError';
  }
}

export class ProbeCheckError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProbeCheckError';
  }
}

/** Answers that mean the URL or the client setup is wrong, never "not ready yet". */
export function configErrorForStatus(status: number, method: string, url: string, location: string | null): ProbeConfigError | undefined {
  const where = `${method} ${url} answered ${status}`;
  switch (status) {
    case 301:
    case 302:
    case 303:
    case 307:
    case 308: {
      const to = location === null ? 'another address' : new URL(location, url).href;
      const https = to.startsWith('https:') && url.startsWith('http:');
      return new ProbeConfigError(
        status,
        `${where}, a redirect to ${to}.`,
        https
          ? 'The server wants https: use an https:// publicUrl.'
          : `The path is probably wrong (a missing or extra "/"?): set the check's path to ${new URL(to).pathname}.`,
      );
    }
    case 401:
    case 403:
      return new ProbeConfigError(
        status,
        `${where} (${status === 401 ? 'Unauthorized' : 'Forbidden'}).`,
        'The endpoint requires credentials, and health checks send none: exempt the health path (or 127.0.0.1) from authentication.',
      );
    case 404:
      return new ProbeConfigError(
        status,
        `${where} (Not Found).`,
        `Nothing is served at ${new URL(url).pathname}: check the path in "health" (the MCP default is /mcp).`,
      );
    case 405:
      return new ProbeConfigError(
        status,
        `${where} (Method Not Allowed).`,
        'This path does not take POST: it is not a Streamable HTTP MCP endpoint (an old HTTP+SSE server, or the wrong path).',
      );
    case 406:
      return new ProbeConfigError(
        status,
        `${where} (Not Acceptable).`,
        'The server refused "Accept: application/json, text/event-stream"; Streamable HTTP servers must accept both.',
      );
    case 421:
      return new ProbeConfigError(
        status,
        `${where} (Misdirected Request).`,
        `The server refused the Host/Origin header "${new URL(url).host}" (DNS-rebinding protection): add it to the server's allowed hosts.`,
      );
    default:
      return undefined;
  }
}

/** fetch() failures that mean "nobody is listening (yet)" become retryable; aborts pass through. */
export function networkError(error: unknown, method: string, url: string): Error {
  if (error instanceof ProbeConfigError || error instanceof ProbeRetryableError || error instanceof ProbeCheckError) return error;
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError')) return error;
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return new ProbeRetryableError(`${method} ${url}: ${describeNetworkCode(reason)}`, { cause: error });
}

function describeNetworkCode(code: string): string {
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listening yet)';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'UND_ERR_CLOSED':
      return 'connection closed';
    default:
      return code;
  }
}

/** Cuts a body for a message: enough to recognise it, never a wall of HTML. */
export function truncate(text: string, limit = 200): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= limit ? flat : `${flat.slice(0, limit)}… (${flat.length} chars)`;
}
