import { probeConnections } from '../../source/health/probe-connections.js';

/**
 * A bounded client loop through nginx: MCP tools/list and GET /health, alternately, from a few
 * concurrent clients on 127.0.0.1 only. It stops by itself after `maxRequests` or `maxMs`, and
 * records every failure with its reason, so a test can assert there were none.
 */
export type TrafficReport = {
  sent: number;
  failed: number;
  retried: number;
  failures: string[];
  latenciesMs: number[];
  /** When each request started (epoch ms) and how long it took, to split latencies by phase. */
  samples: { at: number; ms: number }[];
};

export function startTraffic(baseUrl: string, options: { clients?: number; maxRequests?: number; maxMs?: number } = {}) {
  const url = new URL(baseUrl);
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') throw new Error('traffic only goes to loopback');
  const clients = options.clients ?? 3;
  const maxRequests = options.maxRequests ?? 20_000;
  const deadline = Date.now() + (options.maxMs ?? 120_000);
  const report: TrafficReport = { sent: 0, failed: 0, retried: 0, failures: [], latenciesMs: [], samples: [] };
  let stopping = false;

  // nginx closes idle client keep-alive connections when it reloads; a request that was being
  // written on one at that instant sees a reset before any response, and a careful client sends
  // it again on a new connection (RFC 9110 9.3: nothing reached the server). We do the same,
  // count it as `retried`, and count everything else as failed. Not on another kept-alive
  // connection of the pool: the same reload may be closing that one too (seen in CI: a retry
  // reset again, in interrupted.test's repair, whose reloads come close together).
  const exchange = async (index: number, send: typeof globalThis.fetch): Promise<{ status: number; body: string }> => {
    const response =
      index % 2 === 0
        ? await send(`${baseUrl}/mcp`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-protocol-version': '2025-06-18',
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: index, method: 'tools/list' }),
            signal: AbortSignal.timeout(10_000),
          })
        : await send(`${baseUrl}/health`, { signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: await response.text() };
  };
  const one = async (index: number): Promise<void> => {
    const started = performance.now();
    const at = Date.now();
    try {
      const { status, body } = await exchange(index, fetch).catch((error: unknown) => {
        if (!isResetBeforeResponse(error)) throw error;
        report.retried += 1;
        return onNewConnection((send) => exchange(index, send));
      });
      if (status !== 200 || (index % 2 === 0 && !body.includes('"tools"'))) {
        report.failed += 1;
        report.failures.push(`${status} ${body.slice(0, 120)}`);
      }
    } catch (error) {
      report.failed += 1;
      report.failures.push(
        error instanceof Error ? `${error.name}: ${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error),
      );
    }
    report.sent += 1;
    report.latenciesMs.push(performance.now() - started);
    report.samples.push({ at, ms: performance.now() - started });
  };

  const loop = async (client: number) => {
    let index = client;
    while (!stopping && report.sent < maxRequests && Date.now() < deadline) {
      await one(index);
      index += clients;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const running = Promise.all(Array.from({ length: clients }, (_, client) => loop(client)));
  return {
    report,
    stop: async (): Promise<TrafficReport> => {
      stopping = true;
      await running;
      return report;
    },
  };
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function isResetBeforeResponse(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code === 'ECONNRESET' || cause?.code === 'UND_ERR_SOCKET' || /other side closed/.test(cause?.message ?? '');
}

/** Sends on connections of its own, closed after `send` (which reads the body): a new connection, as a careful client retries. */
export async function onNewConnection<T>(send: (fetch: typeof globalThis.fetch) => Promise<T>): Promise<T> {
  const connections = probeConnections();
  try {
    return await send(connections.fetch);
  } finally {
    await connections.close();
  }
}
