import { configErrorForStatus, networkError, ProbeCheckError, ProbeRetryableError, truncate } from './probe-errors.js';

/**
 * A minimal client for the stateless MCP revision 2026-07-28 (SEP-2575), which
 * @modelcontextprotocol/sdk 1.32 does not implement (its newest version is 2025-11-25 and it has
 * no `server/discover`). Every request stands alone: no initialize, no session; the protocol
 * version and client capabilities travel in `params._meta` and the MCP-Protocol-Version header,
 * and the method (and tool name) in Mcp-Method / Mcp-Name so proxies can route without parsing.
 * Only what a health probe needs: discover, tools/list, tools/call.
 */

export const statelessVersion = '2026-07-28';

const metaKeys = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
} as const;

export type RpcContext = {
  readonly url: string;
  readonly signal: AbortSignal;
  readonly headers: Readonly<Record<string, string>>;
  readonly clientInfo: { readonly name: string; readonly version: string };
};

type RpcError = { readonly code: number; readonly message: string; readonly data?: unknown };

/** What one POST produced: a JSON-RPC result, a JSON-RPC error, or an HTTP answer that is neither. */
export type RpcAnswer =
  | { readonly kind: 'result'; readonly status: number; readonly result: Record<string, unknown> }
  | { readonly kind: 'error'; readonly status: number; readonly error: RpcError }
  | { readonly kind: 'http'; readonly status: number; readonly text: string };

export type Discovery =
  | {
      readonly kind: 'stateless';
      readonly supportedVersions: readonly string[];
      readonly serverInfo: { readonly name: string; readonly version: string };
    }
  /** Not a 2026-07-28 server (or one that does not offer it): use the initialize handshake. */
  | { readonly kind: 'legacy'; readonly reason: string };

let nextId = 1;

/**
 * Fallback order (spec: basic/versioning and server/discover, with the disambiguation of
 * modelcontextprotocol#2727): a result listing 2026-07-28 means stateless; a JSON-RPC error in the
 * body (-32601 method not found, -32022 unsupported version, a legacy server's "no session" 400)
 * or a 400 without a JSON-RPC body means an older server, so initialize. A 404 WITHOUT a JSON-RPC
 * body is no MCP endpoint at all, which rpc() already reports as a configuration error.
 */
export async function discover(context: RpcContext): Promise<Discovery> {
  const answer = await rpc(context, 'server/discover', {});
  if (answer.kind === 'result') {
    const versions = Array.isArray(answer.result['supportedVersions']) ? (answer.result['supportedVersions'] as unknown[]).map(String) : [];
    if (!versions.includes(statelessVersion)) {
      return { kind: 'legacy', reason: `server/discover lists ${versions.join(', ') || 'no versions'}, not ${statelessVersion}` };
    }
    const info = (answer.result['serverInfo'] ?? {}) as { name?: unknown; version?: unknown };
    return {
      kind: 'stateless',
      supportedVersions: versions,
      serverInfo: { name: String(info.name ?? ''), version: String(info.version ?? '') },
    };
  }
  if (answer.kind === 'error')
    return { kind: 'legacy', reason: `server/discover answered JSON-RPC error ${answer.error.code} ${answer.error.message}` };
  return { kind: 'legacy', reason: `server/discover answered HTTP ${answer.status}` };
}

/** A request whose answer must be a result; anything else is a failed check. */
export async function request(context: RpcContext, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = await rpc(context, method, params);
  if (answer.kind === 'error') throw new ProbeCheckError(`${method}: JSON-RPC error ${answer.error.code}: ${answer.error.message}`);
  if (answer.kind === 'http')
    throw new ProbeCheckError(`${method}: HTTP ${answer.status}${answer.text === '' ? '' : `: ${truncate(answer.text)}`}`);
  if (answer.result['resultType'] === 'input_required') {
    throw new ProbeCheckError(`${method}: the server asked for user input (input_required), which a health check cannot give`);
  }
  return answer.result;
}

export async function rpc(context: RpcContext, method: string, params: Record<string, unknown>): Promise<RpcAnswer> {
  const id = nextId++;
  const name = typeof params['name'] === 'string' ? params['name'] : undefined;
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        [metaKeys.protocolVersion]: statelessVersion,
        [metaKeys.clientCapabilities]: {},
        [metaKeys.clientInfo]: context.clientInfo,
      },
    },
  };
  const headers: Record<string, string> = {
    ...context.headers,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': statelessVersion,
    'mcp-method': method,
  };
  // Header values must be printable ASCII; a non-ASCII tool name would need the spec's base64 form.
  if (name !== undefined && /^[\x20-\x7e]*$/.test(name)) headers['mcp-name'] = name;
  let response: Response;
  try {
    response = await fetch(context.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: context.signal,
    });
  } catch (error) {
    throw networkError(error, 'POST', context.url);
  }
  const status = response.status;
  const type = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  try {
    if (type === 'text/event-stream' && response.ok) {
      const message = await readSseReply(response, id);
      return message === undefined ? { kind: 'http', status, text: 'event stream ended without a reply' } : toAnswer(status, message, '');
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = type.includes('json') || text.startsWith('{') ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    const answer = toAnswer(status, parsed, text);
    if (answer.kind === 'http' || (answer.kind === 'error' && status >= 300 && status !== 400 && status !== 404)) {
      const config = configErrorForStatus(status, 'POST', context.url, response.headers.get('location'));
      if (config) throw config;
    }
    if (status >= 500) throw new ProbeRetryableError(`POST ${context.url} answered ${status}${text === '' ? '' : `: ${truncate(text)}`}`);
    return answer;
  } catch (error) {
    throw networkError(error, 'POST', context.url);
  }
}

function toAnswer(status: number, message: unknown, text: string): RpcAnswer {
  if (typeof message === 'object' && message !== null && (message as { jsonrpc?: unknown }).jsonrpc === '2.0') {
    const reply = message as { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    if (reply.error !== undefined && reply.error !== null) {
      return {
        kind: 'error',
        status,
        error: { code: Number(reply.error.code), message: String(reply.error.message ?? ''), data: reply.error.data },
      };
    }
    if (typeof reply.result === 'object' && reply.result !== null && status >= 200 && status < 300) {
      return { kind: 'result', status, result: reply.result as Record<string, unknown> };
    }
  }
  return { kind: 'http', status, text };
}

/**
 * Reads server-sent events until the JSON-RPC reply with `id` arrives (a server may send
 * notifications first), then stops reading: a stream that stays open cannot hold the probe.
 */
async function readSseReply(response: Response, id: number): Promise<unknown> {
  if (response.body === null) return undefined;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      // Normalise line ends on the joined text, holding back a final "\r" whose "\n" may follow.
      buffer += value;
      const held = buffer.endsWith('\r') ? '\r' : '';
      buffer = buffer.slice(0, buffer.length - held.length).replace(/\r\n?/g, '\n') + held;
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).replace(/^ /, ''))
          .join('\n');
        if (data !== '') {
          let message: unknown;
          try {
            message = JSON.parse(data);
          } catch {
            message = undefined;
          }
          if (typeof message === 'object' && message !== null && (message as { id?: unknown }).id === id) return message;
        }
        end = buffer.indexOf('\n\n');
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}
