import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { McpCheck } from '../config/schema.js';
import { discover, request, statelessVersion, type RpcContext } from './mcp-stateless.js';
import { configErrorForStatus, networkError, ProbeCheckError, ProbeConfigError, ProbeRetryableError, truncate } from './probe-errors.js';
import { endpointUrl, probeSignal } from './probe-signal.js';

export type McpProbeOptions = {
  readonly signal?: AbortSignal;
  /** Bound for the whole probe: discovery or handshake, tools/list and every call. */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
};

export type McpProbeResult = {
  readonly protocolVersion: string;
  readonly serverName: string;
  readonly serverVersion: string;
  readonly tools: string[];
  readonly ms: number;
  /** `stateless`: 2026-07-28 via server/discover; `initialize`: the SDK's handshake (≤ 2025-11-25). */
  readonly mode: 'stateless' | 'initialize';
};

const clientInfo = { name: 'mcp-deploy', version: '0.1.0' } as const;
const maxToolPages = 100;

/**
 * Talks to an MCP server the way a client would and checks the answers: the server speaks MCP,
 * lists every tool in `check.expectTools`, and each `check.calls` entry returns text containing its
 * `expectText`.
 *
 * Protocol: first `server/discover` (2026-07-28, stateless; hand-rolled in mcp-stateless.ts since
 * the SDK has none); when the server does not offer that revision, the SDK Client's initialize
 * handshake over StreamableHTTPClientTransport (JSON or SSE replies). Errors are typed so a
 * poller can tell "fix the config" (ProbeConfigError) from "not up yet" (ProbeRetryableError) from
 * "answered wrongly" (ProbeCheckError).
 */
export async function probeMcp(baseUrl: string, check: McpCheck, options: McpProbeOptions = {}): Promise<McpProbeResult> {
  const started = performance.now();
  const url = endpointUrl(baseUrl, check.path);
  const { signal, timedOut } = probeSignal(options);
  const context: RpcContext = { url, signal, headers: options.headers ?? {}, clientInfo };
  try {
    const discovery = await discover(context);
    const outcome =
      discovery.kind === 'stateless' ? await probeStateless(context, check) : await probeWithSdk(context, check, options.timeoutMs);
    if (discovery.kind === 'stateless') {
      return {
        ...outcome,
        protocolVersion: statelessVersion,
        serverName: discovery.serverInfo.name,
        serverVersion: discovery.serverInfo.version,
        ms: elapsed(started),
        mode: 'stateless',
      };
    }
    return { protocolVersion: '', serverName: '', serverVersion: '', ...outcome, ms: elapsed(started), mode: 'initialize' };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw timedOut(error, `MCP ${url}`) ?? classify(error, url);
  }
}

type Outcome = { tools: string[]; protocolVersion?: string; serverName?: string; serverVersion?: string };

async function probeStateless(context: RpcContext, check: McpCheck): Promise<Outcome> {
  const tools: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxToolPages; page += 1) {
    const result = await request(context, 'tools/list', cursor === undefined ? {} : { cursor });
    const listed = Array.isArray(result['tools']) ? (result['tools'] as { name?: unknown }[]) : [];
    tools.push(...listed.map((tool) => String(tool.name)));
    cursor = typeof result['nextCursor'] === 'string' && result['nextCursor'] !== '' ? result['nextCursor'] : undefined;
    if (cursor === undefined) break;
  }
  assertTools(check, tools);
  for (const call of check.calls) {
    const result = await request(context, 'tools/call', { name: call.tool, arguments: call.arguments });
    assertCall(call, result);
  }
  return { tools };
}

async function probeWithSdk(context: RpcContext, check: McpCheck, timeoutMs: number | undefined): Promise<Outcome> {
  const transport = new StreamableHTTPClientTransport(new URL(context.url), {
    fetch: classifyingFetch(context.signal),
    requestInit: { headers: { ...context.headers } },
    // A probe is one short exchange; the SDK's background GET stream must not retry for seconds.
    reconnectionOptions: { initialReconnectionDelay: 1000, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1, maxRetries: 0 },
  });
  const client = new Client(clientInfo, { capabilities: {} });
  const requestOptions = { signal: context.signal, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) };
  try {
    await client.connect(transport, requestOptions);
    const tools: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < maxToolPages; page += 1) {
      const listed = await client.listTools(cursor === undefined ? undefined : { cursor }, requestOptions);
      tools.push(...listed.tools.map((tool) => tool.name));
      cursor = listed.nextCursor || undefined;
      if (cursor === undefined) break;
    }
    assertTools(check, tools);
    for (const call of check.calls) {
      const result = await client.callTool({ name: call.tool, arguments: call.arguments }, undefined, requestOptions);
      assertCall(call, result as Record<string, unknown>);
    }
    const server = client.getServerVersion();
    return {
      tools,
      protocolVersion: transport.protocolVersion ?? '',
      serverName: server?.name ?? '',
      serverVersion: server?.version ?? '',
    };
  } finally {
    // Stateful servers keep a session per initialize; a poller must not pile them up.
    if (transport.sessionId !== undefined) await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

function assertTools(check: McpCheck, tools: readonly string[]): void {
  const missing = check.expectTools.filter((name) => !tools.includes(name));
  if (missing.length > 0) {
    throw new ProbeCheckError(
      `tools/list lacks ${missing.map((name) => `"${name}"`).join(', ')}; the server lists ${tools.length === 0 ? 'no tools' : tools.join(', ')}`,
    );
  }
}

function assertCall(call: McpCheck['calls'][number], result: Record<string, unknown>): void {
  const content = Array.isArray(result['content']) ? (result['content'] as { type?: unknown; text?: unknown }[]) : [];
  const text = content
    .filter((item) => item.type === 'text' && typeof item.text === 'string')
    .map((item) => item.text as string)
    .join('\n');
  if (result['isError'] === true) throw new ProbeCheckError(`tools/call ${call.tool} returned an error: ${truncate(text) || '(no text)'}`);
  if (call.expectText === undefined) return;
  const structured = result['structuredContent'] === undefined ? '' : JSON.stringify(result['structuredContent']);
  if (!text.includes(call.expectText) && !structured.includes(call.expectText)) {
    throw new ProbeCheckError(
      `tools/call ${call.tool}: expected text containing ${JSON.stringify(call.expectText)}, got ${text === '' ? 'no text' : JSON.stringify(truncate(text))}`,
    );
  }
}

/**
 * The fetch the SDK transport uses: every POST answer is classified here, before the SDK turns it
 * into a generic "Error POSTing to endpoint", so redirects, auth and wrong paths surface as
 * ProbeConfigError. A 404 on a request that carries a session id is the server having forgotten
 * the session (it restarted), which is retryable, not a wrong path.
 */
function classifyingFetch(probe: AbortSignal): FetchLike {
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
    const sessionBound = new Headers(init?.headers).has('mcp-session-id');
    const config =
      response.status === 404 && sessionBound
        ? undefined
        : configErrorForStatus(response.status, method, url, response.headers.get('location'));
    if (config) {
      await response.body?.cancel().catch(() => undefined);
      throw config;
    }
    if (response.status >= 500 || response.status === 404) {
      const text = await response.text().catch(() => '');
      throw new ProbeRetryableError(`${method} ${url} answered ${response.status}${text === '' ? '' : `: ${truncate(text)}`}`);
    }
    return response;
  };
}

/** Anything the SDK threw that is not already one of ours: JSON-RPC errors, bad replies. */
function classify(error: unknown, url: string): Error {
  if (error instanceof ProbeConfigError || error instanceof ProbeRetryableError || error instanceof ProbeCheckError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ProbeCheckError(`MCP ${url}: ${message}`, { cause: error });
}

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
