import type { McpCheck } from '../config/schema.js';
import type { Contract } from '../contract/contract.js';
import { readContract } from './contract-read.js';
import { withMcpClient } from './mcp-client.js';
import { ProbeCheckError, truncate } from './probe-errors.js';
import { endpointUrl, probeSignal } from './probe-signal.js';

export type McpProbeOptions = {
  readonly signal?: AbortSignal;
  /** Bound for the whole probe: negotiation, tools/list, every call and the contract read. */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Also read the server's whole contract (prompts, resources, templates) once the checks pass. */
  readonly contract?: boolean;
  /**
   * The era this server negotiated moments ago (verify, after the health step): `legacy` skips
   * the server/discover probe and goes straight to initialize, one round trip fewer. Never from an
   * older release: an upgraded server would go on being spoken to in the old era.
   */
  readonly knownEra?: 'legacy' | 'modern';
};

export type McpProbeResult = {
  /** The negotiated revision: 2026-07-28, or the 2025 version initialize settled on. */
  readonly protocolVersion: string;
  /** `modern`: server/discover (2026-07-28); `legacy`: the initialize handshake (≤ 2025-11-25). */
  readonly era: 'modern' | 'legacy';
  readonly serverName: string;
  readonly serverVersion: string;
  readonly tools: string[];
  readonly ms: number;
  /** Present when asked for with `contract: true`. */
  readonly contract?: Contract;
};

/**
 * Talks to an MCP server the way a client would, through the official v2 SDK client, and checks
 * the answers: the server speaks MCP, lists every tool in `check.expectTools`, and each
 * `check.calls` entry returns text containing its `expectText`. Errors are typed so a poller can
 * tell "fix the config" (ProbeConfigError) from "not up yet" (ProbeRetryableError) from "answered
 * wrongly" (ProbeCheckError).
 */
export async function probeMcp(baseUrl: string, check: McpCheck, options: McpProbeOptions = {}): Promise<McpProbeResult> {
  const started = performance.now();
  const url = endpointUrl(baseUrl, check.path);
  const { signal, timedOut } = probeSignal(options);
  try {
    return await withMcpClient(
      url,
      {
        signal,
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.headers ? { headers: options.headers } : {}),
        ...(options.knownEra === 'legacy' ? { knownLegacy: true } : {}),
      },
      async (connection) => {
        const { client, requestOptions } = connection;
        const listed = (await client.listTools(undefined, { ...requestOptions, cacheMode: 'bypass' })).tools;
        const tools = listed.map((tool) => tool.name);
        assertTools(check, tools);
        for (const call of check.calls) {
          const result = await client.callTool({ name: call.tool, arguments: call.arguments }, requestOptions);
          assertCall(call, result as Record<string, unknown>);
        }
        const server = client.getServerVersion();
        const contract = options.contract ? await readContract(connection, listed) : undefined;
        return {
          protocolVersion: connection.protocolVersion,
          era: connection.era,
          serverName: server?.name ?? '',
          serverVersion: server?.version ?? '',
          tools,
          ms: elapsed(started),
          ...(contract ? { contract } : {}),
        };
      },
    );
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw timedOut(error, `MCP ${url}`) ?? error;
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

function elapsed(started: number): number {
  return Math.round(performance.now() - started);
}
