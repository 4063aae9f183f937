import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { isResetBeforeResponse } from './traffic.js';

/**
 * An MCP client that holds one session, as IDEs and agents do: the official v2 SDK client, one
 * `initialize`, then a tool call every `intervalMs` on that session, with the GET event stream
 * the SDK opens when the server offers one. What nginx answered is seen through the client's own
 * fetch. A 404 is the spec's "start a new session": it is counted and the client initializes
 * again (the SDK does not do that by itself: typescript-sdk issue #1708). Anything else that
 * goes wrong is a failed call. Bounded in calls and time; loopback only.
 */
export type SessionCall = {
  readonly at: number;
  /** The session the call was made on (as the client holds it, tagged by nginx). */
  readonly session: string;
  /** X-MCP-Deploy-Colour of the answer, if nginx added one. */
  readonly colour: string | null;
  readonly status: number | null;
  readonly outcome: 'ok' | 'not-found' | 'failed';
  readonly text?: string;
};

export type SessionClientReport = {
  readonly calls: SessionCall[];
  readonly failures: string[];
  /** How many sessions were started (1 + one per 404). */
  readonly sessions: string[];
  /** Statuses of the GET event streams the SDK opened, in order. */
  readonly streams: number[];
  /** Requests sent again after nginx closed a kept-alive connection before answering (see traffic.ts). */
  retried: number;
};

export type SessionClient = {
  readonly report: SessionClientReport;
  /** The session held now. */
  current(): string;
  /** Resolves once `count` more calls have finished. */
  waitCalls(count: number, timeoutMs?: number): Promise<void>;
  /** Settles when the calls stop by themselves (maxCalls or maxMs reached). */
  readonly finished: Promise<void>;
  /** Stops calling; `end` also ends the session (DELETE), as a client that is done does. */
  stop(options?: { readonly end?: boolean }): Promise<SessionClientReport>;
};

export async function holdSession(
  url: string,
  options: {
    /** The tool each call calls; without one, each call lists the tools. */
    readonly tool?: string;
    readonly intervalMs?: number;
    readonly maxCalls?: number;
    readonly maxMs?: number;
  },
): Promise<SessionClient> {
  if (!/^http:\/\/127\.0\.0\.1:/.test(url)) throw new Error('session clients only talk to loopback');
  const report: SessionClientReport = { calls: [], failures: [], sessions: [], streams: [], retried: 0 };
  const deadline = Date.now() + (options.maxMs ?? 300_000);
  type Answer = { status: number; colour: string | null };
  let last = null as Answer | null;
  // Read through a function: the fetch above sets it while a call is awaited, which TypeScript cannot see.
  const answer = (): Answer | null => last;
  const recordingFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    // nginx closes idle kept-alive connections when it reloads; a request written at that instant
    // never reached a server, and is sent again once, as traffic.ts does.
    const response = await fetch(input, init).catch((error: unknown) => {
      if (!isResetBeforeResponse(error) || init?.body instanceof ReadableStream) throw error;
      report.retried += 1;
      return fetch(input, init);
    });
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    if (method === 'GET') report.streams.push(response.status);
    if (method === 'POST') last = { status: response.status, colour: response.headers.get('x-mcp-deploy-colour') };
    return response;
  };
  const connect = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(url), {
      fetch: recordingFetch,
      // A lost event stream is tried again once, quickly; a 404 on it means the session is gone.
      reconnectionOptions: { initialReconnectionDelay: 200, maxReconnectionDelay: 200, reconnectionDelayGrowFactor: 1, maxRetries: 1 },
    });
    const client = new Client({ name: 'session-holder', version: '1.0.0' });
    client.onerror = () => {};
    await client.connect(transport);
    report.sessions.push(transport.sessionId ?? '(none)');
    return { client, transport };
  };

  let held = await connect();
  let stopping = false;
  let finished = 0;
  const waiters: { target: number; resolve: () => void }[] = [];
  const loop = (async () => {
    while (!stopping && report.calls.length < (options.maxCalls ?? 20_000) && Date.now() < deadline) {
      const session = held.transport.sessionId ?? '(none)';
      last = null;
      try {
        const text =
          options.tool === undefined
            ? (await held.client.listTools(undefined, { timeout: 15_000 })).tools.map((tool) => tool.name).join(',')
            : (
                (await held.client.callTool({ name: options.tool, arguments: {} }, { timeout: 15_000 })) as {
                  content?: { text?: string }[];
                }
              ).content?.[0]?.text;
        report.calls.push({
          at: Date.now(),
          session,
          colour: answer()?.colour ?? null,
          status: answer()?.status ?? null,
          outcome: 'ok',
          text: text ?? '',
        });
      } catch (error) {
        const status = answer()?.status ?? null;
        const colour = answer()?.colour ?? null;
        if (status === 404) {
          report.calls.push({ at: Date.now(), session, colour, status, outcome: 'not-found' });
          await held.client.close().catch(() => {});
          held = await connect();
        } else {
          report.calls.push({ at: Date.now(), session, colour, status, outcome: 'failed' });
          report.failures.push(`${status ?? 'no answer'} on ${session}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      finished += 1;
      for (const waiter of waiters.splice(0)) {
        if (finished >= waiter.target) waiter.resolve();
        else waiters.push(waiter);
      }
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
    }
  })();
  return {
    report,
    current: () => held.transport.sessionId ?? '(none)',
    finished: loop,
    waitCalls: (count, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${count} calls did not finish within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          target: finished + count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
    stop: async ({ end = false } = {}) => {
      stopping = true;
      await loop;
      if (end) await held.transport.terminateSession().catch(() => {});
      await held.client.close().catch(() => {});
      return report;
    },
  };
}

/** The calls that failed for another reason than a retired session, and how many 404s there were. */
export function summarizeSessionCalls(report: SessionClientReport): { ok: number; notFound: number; failed: number } {
  return {
    ok: report.calls.filter((call) => call.outcome === 'ok').length,
    notFound: report.calls.filter((call) => call.outcome === 'not-found').length,
    failed: report.calls.filter((call) => call.outcome === 'failed').length,
  };
}
