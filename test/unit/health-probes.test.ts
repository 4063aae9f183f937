import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHttp } from '../../source/health/http-probe.js';
import { probeMcp } from '../../source/health/mcp-probe.js';
import { ProbeCheckError, ProbeConfigError, ProbeRetryableError } from '../../source/health/probe-errors.js';
import { HealthTimeoutError, waitHealthy } from '../../source/health/wait-healthy.js';

type Handler = (request: IncomingMessage, body: string, response: ServerResponse) => void;

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(handler: Handler): Promise<string> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handler(request, Buffer.concat(chunks).toString('utf8'), response));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function json(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(payload));
}

function sse(response: ServerResponse, messages: unknown[], headers: Record<string, string> = {}): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', ...headers });
  for (const message of messages) response.write(`event: message\r\ndata: ${JSON.stringify(message)}\r\n\r\n`);
  response.end();
}

const tools = [
  { name: 'echo', inputSchema: { type: 'object' } },
  { name: 'count', inputSchema: { type: 'object' } },
];
const check = { path: '/mcp', expectTools: ['echo'], calls: [{ tool: 'echo', arguments: { text: 'hi' }, expectText: 'echo: hi' }] };

/** A 2026-07-28 stateless server: server/discover, per-request _meta, no session. */
function statelessServer(seen: { method: string; headers: IncomingMessage['headers']; meta: unknown }[]): Handler {
  return (request, body, response) => {
    if (request.method !== 'POST') return json(response, 405, {});
    const message = JSON.parse(body) as { id: number; method: string; params: Record<string, unknown> };
    seen.push({ method: message.method, headers: request.headers, meta: message.params['_meta'] });
    const reply = (result: unknown) => ({ jsonrpc: '2.0', id: message.id, result: { resultType: 'complete', ...(result as object) } });
    switch (message.method) {
      case 'server/discover':
        return json(
          response,
          200,
          reply({
            supportedVersions: ['2026-07-28', '2025-11-25'],
            capabilities: { tools: {} },
            serverInfo: { name: 'modern', version: '2.0.0' },
          }),
        );
      case 'tools/list':
        return json(response, 200, reply({ tools }));
      case 'tools/call': {
        const text = String((message.params['arguments'] as { text?: unknown }).text);
        // An SSE answer with a notification first, as a streaming server may send.
        return sse(response, [
          { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } },
          reply({ content: [{ type: 'text', text: `echo: ${text}` }] }),
        ]);
      }
      default:
        return json(response, 404, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
    }
  };
}

/** A 2025-era stateful server: initialize hands out a session; SSE replies; server/discover unknown. */
function legacyServer(log: string[]): Handler {
  return (request, body, response) => {
    log.push(`${request.method} ${request.headers['mcp-session-id'] ?? '-'}`);
    if (request.method === 'DELETE') return json(response, 200, {});
    if (request.method === 'GET') return json(response, 405, {});
    const message = JSON.parse(body) as { id?: number; method: string; params: Record<string, unknown> };
    if (message.id === undefined) {
      response.writeHead(202).end();
      return;
    }
    if (message.method === 'initialize') {
      return sse(
        response,
        [
          {
            jsonrpc: '2.0',
            id: message.id,
            result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: 'legacy', version: '1.2.3' } },
          },
        ],
        { 'mcp-session-id': 'session-1' },
      );
    }
    if (request.headers['mcp-session-id'] !== 'session-1') {
      return json(response, 400, {
        jsonrpc: '2.0',
        id: null,
        error: { code: -32000, message: 'Bad Request: No valid session ID provided' },
      });
    }
    if (message.method === 'tools/list') return sse(response, [{ jsonrpc: '2.0', id: message.id, result: { tools } }]);
    if (message.method === 'tools/call')
      return json(response, 200, { jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'echo: hi' }] } });
    return json(response, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
  };
}

describe('probeMcp', () => {
  it('speaks the stateless 2026-07-28 protocol when server/discover offers it', async () => {
    const seen: { method: string; headers: IncomingMessage['headers']; meta: unknown }[] = [];
    const base = await serve(statelessServer(seen));
    const result = await probeMcp(base, check, { timeoutMs: 5_000 });

    expect(result).toMatchObject({
      mode: 'stateless',
      protocolVersion: '2026-07-28',
      serverName: 'modern',
      serverVersion: '2.0.0',
      tools: ['echo', 'count'],
    });
    expect(seen.map((request) => request.method)).toEqual(['server/discover', 'tools/list', 'tools/call']);
    for (const request of seen) {
      expect(request.headers['mcp-protocol-version']).toBe('2026-07-28');
      expect(request.headers['mcp-method']).toBe(request.method);
      expect(request.headers['mcp-session-id']).toBeUndefined();
      expect(request.meta).toMatchObject({
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {},
      });
    }
    expect(seen[2]?.headers['mcp-name']).toBe('echo');
  });

  it('falls back to the SDK initialize handshake for an older server, and ends its session', async () => {
    const log: string[] = [];
    const base = await serve(legacyServer(log));
    const result = await probeMcp(base, check, { timeoutMs: 5_000 });

    expect(result).toMatchObject({
      mode: 'initialize',
      protocolVersion: '2025-06-18',
      serverName: 'legacy',
      serverVersion: '1.2.3',
      tools: ['echo', 'count'],
    });
    expect(log[0]).toBe('POST -'); // server/discover, refused for lack of a session
    expect(log).toContain('DELETE session-1');
  });

  it('names missing tools and the ones found', async () => {
    const base = await serve(statelessServer([]));
    const error = await probeMcp(base, { ...check, expectTools: ['echo', 'translate', 'sum'] }, { timeoutMs: 5_000 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ProbeCheckError);
    expect((error as Error).message).toBe('tools/list lacks "translate", "sum"; the server lists echo, count');
  });

  it('fails a call whose text lacks expectText, quoting what came back', async () => {
    const base = await serve(legacyServer([]));
    const error = await probeMcp(
      base,
      { ...check, calls: [{ tool: 'echo', arguments: {}, expectText: 'bonjour' }] },
      { timeoutMs: 5_000 },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeCheckError);
    expect((error as Error).message).toBe('tools/call echo: expected text containing "bonjour", got "echo: hi"');
  });

  it.each([
    [307, { location: '/mcp/' }, /redirect to http:\/\/127\.0\.0\.1:\d+\/mcp\//, /set the check's path to \/mcp\//],
    [308, { location: 'https://example.org/mcp' }, /redirect to https:\/\/example\.org\/mcp/, /wants https/],
    [401, {}, /answered 401 \(Unauthorized\)/, /requires credentials/],
    [403, {}, /answered 403 \(Forbidden\)/, /requires credentials/],
    [404, {}, /answered 404 \(Not Found\)/, /check the path/],
    [406, {}, /answered 406 \(Not Acceptable\)/, /Accept/],
    [421, {}, /answered 421 \(Misdirected Request\)/, /allowed hosts/],
  ] as const)('classifies HTTP %i as a configuration error', async (status, headers, message, hint) => {
    const base = await serve((_request, _body, response) => {
      response.writeHead(status, { 'content-type': 'text/html', ...headers });
      response.end('<html>nope</html>');
    });
    const error = await probeMcp(base, check, { timeoutMs: 5_000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeConfigError);
    expect((error as ProbeConfigError).status).toBe(status);
    expect((error as ProbeConfigError).message).toMatch(message);
    expect((error as ProbeConfigError).hint).toMatch(hint);
  });

  it('classifies a 404 that is not JSON-RPC during the SDK handshake as a configuration error too', async () => {
    const base = await serve((_request, body, response) => {
      const message = JSON.parse(body) as { method: string };
      if (message.method === 'server/discover')
        return json(response, 200, { jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'Method not found' } });
      response.writeHead(404).end('no');
    });
    const error = await probeMcp(base, check, { timeoutMs: 5_000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeConfigError);
    expect((error as ProbeConfigError).status).toBe(404);
  });

  it('treats connection refused and 5xx as retryable', async () => {
    const base = await serve(() => undefined);
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const refused = await probeMcp(base, check, { timeoutMs: 2_000 }).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(ProbeRetryableError);
    expect((refused as Error).message).toMatch(/connection refused/);

    const busy = await serve((_request, _body, response) => response.writeHead(502).end('Bad Gateway'));
    const bad = await probeMcp(busy, check, { timeoutMs: 2_000 }).catch((caught: unknown) => caught);
    expect(bad).toBeInstanceOf(ProbeRetryableError);
    expect((bad as Error).message).toMatch(/answered 502: Bad Gateway/);
  });

  it('turns a server that never answers into a retryable timeout, within the bound', async () => {
    const base = await serve(() => undefined); // accepts, never replies: without the bound, the test itself times out
    const error = await probeMcp(base, check, { timeoutMs: 300 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeRetryableError);
    expect((error as Error).message).toMatch(/no answer within 300 ms/);
  });

  it('rethrows the caller abort as is', async () => {
    const base = await serve(() => undefined);
    const controller = new AbortController();
    const reason = new Error('operator pressed Ctrl-C');
    setTimeout(() => controller.abort(reason), 50);
    await expect(probeMcp(base, check, { timeoutMs: 5_000, signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('probeHttp', () => {
  it('checks status and top-level JSON fields by deep equality, naming route, expected and got', async () => {
    const base = await serve((request, _body, response) => {
      if (request.url === '/health') return json(response, 200, { status: 'ok', build: { n: 1, tags: ['a'] }, extra: true });
      if (request.url === '/starting') return json(response, 503, { status: 'starting', padding: 'x'.repeat(500) });
      return json(response, 200, { status: 'degraded' });
    });
    await expect(
      probeHttp(base, [{ path: '/health', status: 200, json: { status: 'ok', build: { n: 1, tags: ['a'] } } }]),
    ).resolves.toMatchObject({ ms: expect.any(Number) });

    const wrongStatus = await probeHttp(base, [{ path: '/starting', status: 200 }]).catch((caught: unknown) => caught);
    expect(wrongStatus).toBeInstanceOf(ProbeCheckError);
    expect((wrongStatus as Error).message).toMatch(
      /^GET \/starting: expected status 200, got 503: \{"status":"starting".*… \(\d+ chars\)$/,
    );
    expect((wrongStatus as Error).message.length).toBeLessThan(300);

    const wrongJson = await probeHttp(base, [{ path: '/other', status: 200, json: { status: 'ok', version: '1' } }]).catch(
      (caught: unknown) => caught,
    );
    expect((wrongJson as Error).message).toBe('GET /other: "status": expected "ok", got "degraded"; "version": expected "1", got nothing');
  });

  it('does not follow redirects and reports them as configuration errors', async () => {
    const base = await serve((_request, _body, response) => response.writeHead(301, { location: '/health/' }).end());
    await expect(probeHttp(base, [{ path: '/health', status: 200 }])).rejects.toBeInstanceOf(ProbeConfigError);
  });
});

describe('waitHealthy', () => {
  it('polls until the server is ready and returns the MCP result', async () => {
    let calls = 0;
    const ready = statelessServer([]);
    const base = await serve((request, body, response) => {
      calls += 1;
      if (calls <= 3) return json(response, 503, { status: 'starting' });
      if (request.url === '/health') return json(response, 200, { status: 'ok' });
      ready(request, body, response);
    });
    const attempts: number[] = [];
    const result = await waitHealthy(
      base,
      { http: [{ path: '/health', status: 200 }], mcp: check, timeoutSeconds: 10 },
      { timeoutMs: 5_000, onAttempt: (attempt) => attempts.push(attempt.passed) },
    );
    expect(result.tools).toEqual(['echo', 'count']);
    expect(attempts).toEqual([0, 0, 0, 2]);
  });

  it('stops at once on a configuration error', async () => {
    let requests = 0;
    const base = await serve((_request, _body, response) => {
      requests += 1;
      response.writeHead(404).end('not here');
    });
    const attempts: number[] = [];
    await expect(
      waitHealthy(
        base,
        { http: [], mcp: check, timeoutSeconds: 30 },
        { timeoutMs: 30_000, onAttempt: (attempt) => attempts.push(attempt.passed) },
      ),
    ).rejects.toBeInstanceOf(ProbeConfigError);
    // One answer was enough: no second attempt, no retry.
    expect(attempts.length).toBeLessThanOrEqual(1);
    expect(requests).toBe(1);
  });

  it('gives up at the deadline with the last failure reason', async () => {
    const base = await serve((_request, _body, response) => json(response, 503, { status: 'starting' }));
    const error = await waitHealthy(base, { http: [{ path: '/health', status: 200 }], timeoutSeconds: 1 }, { timeoutMs: 800 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(HealthTimeoutError);
    expect((error as HealthTimeoutError).lastFailure).toBe('GET /health: expected status 200, got 503: {"status":"starting"}');
    expect((error as Error).message).toMatch(/^Not healthy after 0\.8 s \(\d+ attempts\); last failure: GET \/health/);
  });
});
