import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHttp } from '../../source/health/http-probe.js';
import { probeMcp } from '../../source/health/mcp-probe.js';
import { ProbeCheckError, ProbeConfigError, ProbeRetryableError } from '../../source/health/probe-errors.js';
import { HealthTimeoutError, waitHealthy } from '../../source/health/wait-healthy.js';
import { waitFor } from '../harness/wait.js';
import { sampleSurface, startSdkServer, type RunningSdkServer } from '../fixtures/sdk-server/start.js';

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

/** Passes a request on to `base` (a real SDK server) and its answer back. */
function forward(base: string, request: IncomingMessage, body: string, response: ServerResponse): void {
  const headers = Object.fromEntries(
    Object.entries(request.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );
  void fetch(`${base}${request.url}`, { method: request.method, headers, ...(body === '' ? {} : { body }) }).then(async (answer) => {
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    response.end(Buffer.from(await answer.arrayBuffer()));
  });
}

function json(response: ServerResponse, status: number, payload: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(payload));
}

const check = {
  path: '/mcp',
  expectTools: ['echo'],
  calls: [{ tool: 'echo', arguments: { text: 'hi' }, expectText: 'echo: {"text":"hi"}' }],
};

const sdkServers: RunningSdkServer[] = [];
afterEach(async () => {
  for (const server of sdkServers.splice(0)) await server.stop();
});

async function sdkServer(...args: Parameters<typeof startSdkServer>): Promise<RunningSdkServer> {
  const server = await startSdkServer(...args);
  sdkServers.push(server);
  return server;
}

/**
 * The JSON-RPC methods the fixture logged, in order, once `last` is among them: the server logs a
 * request after answering it, so the client can be done before the line arrives.
 */
async function methods(server: RunningSdkServer, last: string): Promise<string[]> {
  return waitFor(`the fixture to log ${last}`, () => {
    const seen = logged(server);
    return seen.includes(last) && seen;
  });
}

function logged(server: RunningSdkServer): string[] {
  return server
    .log()
    .map((line) => /^(POST|GET|DELETE) \/mcp ?(\S*) /.exec(line))
    .filter((match) => match !== null)
    .map((match) => (match[2] && !/^\d+$/.test(match[2]) ? `${match[1]} ${match[2]}` : match[1]!));
}

describe('probeMcp (the official v2 SDK client)', () => {
  it('speaks 2026-07-28 through server/discover to a server that offers both eras', async () => {
    const server = await sdkServer(sampleSurface, { era: 'both' });
    const result = await probeMcp(server.base, check, { timeoutMs: 5_000 });
    expect(result).toMatchObject({
      era: 'modern',
      protocolVersion: '2026-07-28',
      serverName: 'sample',
      serverVersion: '2.0.0',
      tools: ['echo', 'count'],
    });
    expect(await methods(server, 'POST tools/call')).toEqual(['POST server/discover', 'POST tools/list', 'POST tools/call']);
  });

  it('speaks 2026-07-28 to a modern-only server, with every reply as an event stream', async () => {
    const server = await sdkServer(sampleSurface, { era: 'modern', responseMode: 'sse' });
    const result = await probeMcp(server.base, check, { timeoutMs: 5_000 });
    expect(result).toMatchObject({ era: 'modern', protocolVersion: '2026-07-28', tools: ['echo', 'count'] });
  });

  it('falls back to initialize for a 2025 server with sessions (SSE replies), and ends its session', async () => {
    const server = await sdkServer(sampleSurface, { era: 'legacy' });
    const result = await probeMcp(server.base, check, { timeoutMs: 5_000 });
    expect(result).toMatchObject({ era: 'legacy', protocolVersion: '2025-11-25', serverName: 'sample', tools: ['echo', 'count'] });
    const seen = await methods(server, 'DELETE');
    expect(seen.slice(0, 3)).toEqual(['POST server/discover', 'POST initialize', 'POST notifications/initialized']);
    expect(seen).toContain('POST tools/call');
    expect(seen.at(-1)).toBe('DELETE');
  });

  it('goes straight to initialize when the era is known to be 2025 (verify, after the health step)', async () => {
    const server = await sdkServer(sampleSurface, { era: 'legacy' });
    const result = await probeMcp(server.base, check, { timeoutMs: 5_000, knownEra: 'legacy' });
    expect(result).toMatchObject({ era: 'legacy', protocolVersion: '2025-11-25', tools: ['echo', 'count'] });
    const seen = await methods(server, 'DELETE');
    expect(seen.slice(0, 2)).toEqual(['POST initialize', 'POST notifications/initialized']);
    expect(seen).not.toContain('POST server/discover');
  });

  it('reads the whole contract, following every paginated list', async () => {
    const many = { ...sampleSurface, pageSize: 1, tools: [...sampleSurface.tools!, { name: 'third', inputSchema: { type: 'object' } }] };
    for (const era of ['both', 'legacy'] as const) {
      const server = await sdkServer(many, { era });
      const result = await probeMcp(server.base, check, { timeoutMs: 5_000, contract: true });
      const contract = result.contract!;
      expect(contract.protocol.era).toBe(era === 'both' ? 'modern' : 'legacy');
      expect(contract.serverInfo).toEqual({ name: 'sample', version: '2.0.0' });
      expect(contract.tools.map((tool) => tool.name)).toEqual(['count', 'echo', 'third']);
      expect(contract.tools.find((tool) => tool.name === 'echo')).toEqual({
        name: 'echo',
        title: 'Echo',
        description: 'Echoes its text.',
        inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
        annotations: { readOnlyHint: true },
      });
      expect(contract.tools.find((tool) => tool.name === 'count')?.outputSchema).toEqual({ type: 'object' });
      expect(contract.prompts).toEqual([{ name: 'greet', description: 'Greets.', arguments: [{ name: 'who', required: true }] }]);
      expect(contract.resources).toEqual([{ name: 'readme', uri: 'file:///readme', mimeType: 'text/plain' }]);
      expect(contract.resourceTemplates).toEqual([{ name: 'doc', uriTemplate: 'file:///docs/{id}' }]);
      expect(contract.capabilities).toMatchObject({ tools: {}, prompts: {}, resources: {} });
      // Three tools in pages of one: tools/list asked three times.
      expect((await methods(server, 'POST resources/templates/list')).filter((method) => method === 'POST tools/list')).toHaveLength(3);
    }
  });

  it('names missing tools and the ones found', async () => {
    const { base } = await sdkServer(sampleSurface);
    const error = await probeMcp(base, { ...check, expectTools: ['echo', 'translate', 'sum'] }, { timeoutMs: 5_000 }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ProbeCheckError);
    expect((error as Error).message).toBe('tools/list lacks "translate", "sum"; the server lists echo, count');
  });

  it('fails a call whose text lacks expectText, quoting what came back', async () => {
    const { base } = await sdkServer(sampleSurface, { era: 'legacy' });
    const error = await probeMcp(
      base,
      { ...check, calls: [{ tool: 'echo', arguments: {}, expectText: 'bonjour' }] },
      { timeoutMs: 5_000 },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeCheckError);
    expect((error as Error).message).toBe('tools/call echo: expected text containing "bonjour", got "echo: {}"');
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
      const message = JSON.parse(body) as { id: number; method: string };
      if (message.method === 'server/discover')
        return json(response, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
      response.writeHead(404).end('no');
    });
    const error = await probeMcp(base, check, { timeoutMs: 5_000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeConfigError);
    expect((error as ProbeConfigError).status).toBe(404);
  });

  it('names a server that shares no protocol version with the client as a configuration error', async () => {
    const seen: string[] = [];
    const base = await serve((_request, body, response) => {
      const message = JSON.parse(body) as { id?: number; method: string };
      seen.push(message.method);
      if (message.method === 'server/discover')
        return json(response, 200, { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'Method not found' } });
      return json(response, 200, {
        jsonrpc: '2.0',
        id: message.id,
        result: { protocolVersion: '1999-01-01', capabilities: { tools: {} }, serverInfo: { name: 'ancient', version: '0.1' } },
      });
    });
    const error = await probeMcp(base, check, { timeoutMs: 5_000 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProbeConfigError);
    expect((error as Error).message).toMatch(/1999-01-01/);
    expect((error as ProbeConfigError).hint).toMatch(/share no MCP protocol version/);
    expect(seen).toEqual(['server/discover', 'initialize']);
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
  it('keeps no connection open once a check is over, passed or cut off', async () => {
    // A connection left in a pool and used after a reload would be routed by nginx's old worker
    // (source/health/probe-connections.ts): a check's connections end with the check.
    const open = new Set<Socket>();
    const server = createServer((request, response) => {
      if (request.url !== '/slow') json(response, 200, { status: 'ok' });
    });
    server.on('connection', (socket) => {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await probeHttp(base, [{ path: '/health', status: 200 }]);
    await waitFor('the passed check to close its connection', () => open.size === 0, { timeoutMs: 2_000 });
    const controller = new AbortController();
    const cut = probeHttp(base, [{ path: '/slow', status: 200 }], { signal: controller.signal });
    await waitFor('the slow check to connect', () => open.size === 1, { timeoutMs: 2_000 });
    controller.abort();
    await expect(cut).rejects.toThrow();
    await waitFor('the cut-off check to close its connection', () => open.size === 0, { timeoutMs: 2_000 });
  });

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
    const ready = await sdkServer(sampleSurface);
    // "starting" for three attempts (each asks /health and MCP at once), then everything goes to the real SDK server.
    let failedAttempts = 0;
    const base = await serve((request, body, response) => {
      if (failedAttempts < 3) return json(response, 503, { status: 'starting' });
      forward(ready.base, request, body, response);
    });
    const attempts: number[] = [];
    const result = await waitHealthy(
      base,
      { http: [{ path: '/health', status: 200 }], mcp: check, timeoutSeconds: 10 },
      {
        timeoutMs: 5_000,
        onAttempt: (attempt) => {
          attempts.push(attempt.passed);
          if (attempt.failure !== undefined) failedAttempts += 1;
        },
      },
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

  it('asks the HTTP routes and MCP at once', async () => {
    const ready = await sdkServer(sampleSurface);
    let mcpRequests = 0;
    const base = await serve((request, body, response) => {
      if (request.url === '/health') {
        // Answered only once an MCP request is in: asked one after the other, this never passes.
        const answer = () => (mcpRequests > 0 ? json(response, 200, { status: 'ok' }) : setTimeout(answer, 5));
        answer();
        return;
      }
      mcpRequests += 1;
      forward(ready.base, request, body, response);
    });
    const result = await waitHealthy(
      base,
      { http: [{ path: '/health', status: 200, json: { status: 'ok' } }], mcp: check, timeoutSeconds: 5 },
      { timeoutMs: 3_000 },
    );
    expect(result.tools).toEqual(['echo', 'count']);
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
