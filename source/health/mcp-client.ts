import { Client, type FetchLike, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { classifySdkError } from './sdk-errors.js';
import { configErrorForStatus, networkError, ProbeRetryableError, truncate } from './probe-errors.js';
import { probeUserAgent } from './probe-agent.js';
import { probeConnections } from './probe-connections.js';

/** How mcp-deploy names itself to servers. */
const clientInfo = { name: 'mcp-deploy', version: '0.1.0' } as const;
/** More pages than any real server needs; a cursor that never ends is a failed check, not a hang. */
const listMaxPages = 100;

export type McpConnection = {
  readonly client: Client;
  /** `modern`: 2026-07-28 via server/discover; `legacy`: the 2025 initialize handshake. */
  readonly era: 'modern' | 'legacy';
  readonly protocolVersion: string;
  /** Per-request options every call must pass: the probe's signal and deadline. */
  readonly requestOptions: { readonly signal: AbortSignal; readonly timeout?: number };
};

export type ConnectOptions = {
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** The server is known to speak only the 2025 era: no server/discover probe first (the SDK's `prior`). */
  readonly knownLegacy?: boolean;
};

/**
 * Connects the official v2 client (@modelcontextprotocol/client) to a Streamable HTTP endpoint,
 * runs `body`, and closes everything, ending the session of a stateful 2025 server so a poller
 * never piles them up. The SDK negotiates the era (`versionNegotiation: 'auto'`): server/discover
 * first, the initialize handshake when the server is older; JSON and SSE replies alike.
 *
 * What the SDK cannot know is which HTTP answers mean "the check is wrong" to a deploy tool: that
 * is classifyingFetch's job, below the SDK, before it turns them into generic errors.
 */
export async function withMcpClient<T>(url: string, options: ConnectOptions, body: (connection: McpConnection) => Promise<T>): Promise<T> {
  const connections = probeConnections();
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: classifyingFetch(options.signal, connections.fetch),
    // Redirects reach classifyingFetch as they are: a redirected health check is a wrong URL.
    requestInit: { headers: { 'user-agent': probeUserAgent, ...options.headers }, redirect: 'manual' },
    // A probe is one short exchange; the SDK's background GET stream must not retry for seconds.
    reconnectionOptions: { initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
  });
  const client = new Client(clientInfo, { capabilities: {}, versionNegotiation: { mode: 'auto' }, listMaxPages });
  const requestOptions = { signal: options.signal, ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }) };
  try {
    await client.connect(transport, options.knownLegacy ? { ...requestOptions, prior: { kind: 'legacy' } } : requestOptions);
    return await body({
      client,
      era: client.getProtocolEra() === 'legacy' ? 'legacy' : 'modern',
      protocolVersion: client.getNegotiatedProtocolVersion() ?? '',
      requestOptions,
    });
  } catch (error) {
    throw classifySdkError(error, url);
  } finally {
    // The session is ended (DELETE, bounded by classifyingFetch) and the client closed after the
    // answer is in hand, not before it is returned: the caller's next step need not wait a round
    // trip for a goodbye. Closing waits for the DELETE, which it would otherwise cut off.
    const ending = transport.sessionId === undefined ? Promise.resolve() : transport.terminateSession().catch(() => undefined);
    void ending
      .then(() => client.close())
      .catch(() => undefined)
      .finally(() => connections.close());
  }
}

/**
 * The fetch the SDK transport uses: every POST answer is classified here, before the SDK turns it
 * into a generic error, so redirects, auth, Host/Origin and Accept refusals and wrong paths
 * surface as ProbeConfigError. Two 404s are not a wrong path: one with a JSON-RPC body (an MCP
 * endpoint refusing a method, which the SDK's era negotiation reads), and one on a request that
 * carries a session id (the server restarted and forgot it: retryable).
 */
function classifyingFetch(probe: AbortSignal, fetch: typeof globalThis.fetch): FetchLike {
  return async (input, init) => {
    const method = (init?.method ?? 'GET').toUpperCase();
    const url = String(input);
    // DELETE ends the session after the probe, maybe after the deadline: give it its own short bound.
    const own = method === 'DELETE' ? AbortSignal.timeout(1_000) : probe;
    const signal = init?.signal ? AbortSignal.any([init.signal, own]) : own;
    let response: Response;
    try {
      response = await fetch(input, { ...init, signal });
    } catch (error) {
      throw networkError(error, method, url);
    }
    if (method !== 'POST' || response.ok) return response;
    if (response.status === 404) {
      if (new Headers(init?.headers).has('mcp-session-id')) {
        await response.body?.cancel().catch(() => undefined);
        throw new ProbeRetryableError(`${method} ${url} answered 404 for its session (the server restarted?)`);
      }
      if (await isJsonRpc(response)) return response;
    }
    const config = configErrorForStatus(response.status, method, url, response.headers.get('location'));
    if (config) {
      await response.body?.cancel().catch(() => undefined);
      throw config;
    }
    if (response.status >= 500) {
      const text = await response.text().catch(() => '');
      throw new ProbeRetryableError(`${method} ${url} answered ${response.status}${text === '' ? '' : `: ${truncate(text)}`}`);
    }
    return response;
  };
}

async function isJsonRpc(response: Response): Promise<boolean> {
  try {
    const parsed = JSON.parse(await response.clone().text()) as { jsonrpc?: unknown };
    return parsed.jsonrpc === '2.0';
  } catch {
    return false;
  }
}
