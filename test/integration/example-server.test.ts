// The bundled example MCP server (examples/ontology-server) run for real with python3:
// the official SDK client must accept it, the raw HTTP edges must follow the Streamable
// HTTP spec, and SIGTERM must let a request in progress finish before exiting 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Parser } from 'n3';
import { probeMcp } from '../../source/health/mcp-probe.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE_DIR = path.join(ROOT, 'examples', 'ontology-server');
const SERVER_PY = path.join(EXAMPLE_DIR, 'server.py');
const TOOL_NAMES = ['get_concept', 'list_concepts', 'search_guidelines'];

interface Running {
  child: ChildProcess;
  port: number;
  base: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Running[] = [];
const tempDirs: string[] = [];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when a new TCP connection to the port is accepted. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function launch(options: { env?: Record<string, string>; usePortEnv?: boolean } = {}): Promise<Running> {
  return freePort().then((port) => {
    const args = options.usePortEnv ? [SERVER_PY] : [SERVER_PY, '--port', String(port)];
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
    for (const name of ['ONTOLOGY_DIR', 'EXAMPLE_SLOW_MS', 'SERVER_VERSION', 'RELEASE_ID', 'PORT', 'HOST']) delete env[name];
    if (options.usePortEnv) env.PORT = String(port);
    Object.assign(env, options.env);
    const child = spawn('python3', args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const handle: Running = { child, port, base: `http://127.0.0.1:${port}`, stderr: () => stderr, exited };
    running.push(handle);
    return handle;
  });
}

async function waitForHealth(server: Running): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server exited early (${server.child.exitCode}):\n${server.stderr()}`);
    }
    try {
      const res = await fetch(`${server.base}/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`server did not become healthy within 10 s:\n${server.stderr()}`);
}

async function waitFor(condition: () => boolean, what: string, attempts = 100, stepMs = 50): Promise<void> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (condition()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function stop(server: Running): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([server.exited.then(() => true), sleep(5_000).then(() => false)]);
  if (!done) {
    child.kill('SIGKILL');
    await server.exited;
  }
}

async function startHealthy(options: Parameters<typeof launch>[0] = {}): Promise<Running> {
  const server = await launch(options);
  await waitForHealth(server);
  return server;
}

function distinctTriples(file: string): number {
  const quads = new Parser({ baseIRI: `file://${file}`, format: 'text/turtle' }).parse(readFileSync(file, 'utf8'));
  return new Set(quads.map((q) => `${q.subject.id} ${q.predicate.id} ${q.object.id}`)).size;
}

async function postMcp(base: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON-RPC answers, field by field
  return { res, text, json: text ? (JSON.parse(text) as any) : undefined };
}

function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  expect(Array.isArray(content)).toBe(true);
  expect(content?.[0]?.type).toBe('text');
  return content?.[0]?.text ?? '';
}

afterAll(async () => {
  await Promise.all(running.map(stop));
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('example ontology server', () => {
  let server: Running;

  beforeAll(async () => {
    server = await startHealthy({ env: { SERVER_VERSION: '9.8.7-test', RELEASE_ID: 'rel-test-1' } });
  });

  it('logs a startup line with the address and what it loaded', () => {
    expect(server.stderr()).toContain(`listening on http://127.0.0.1:${server.port}`);
    expect(server.stderr()).toMatch(/2 files, 92 triples, 20 concepts/);
  });

  it('is accepted by the official v2 SDK client: negotiates down to 2025, lists and calls every tool, ping', async () => {
    // The example speaks the 2025 revisions only: server/discover is an unknown method to it, which
    // the client's era negotiation reads as "legacy" and follows with initialize.
    const client = new Client({ name: 'example-server-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    const transport = new StreamableHTTPClientTransport(new URL(`${server.base}/mcp`));
    await client.connect(transport);
    try {
      expect(client.getServerVersion()).toMatchObject({ name: 'ontology-server', version: '9.8.7-test' });
      expect(client.getServerCapabilities()?.tools).toBeDefined();
      expect(client.getProtocolEra()).toBe('legacy');
      expect(client.getNegotiatedProtocolVersion()).toBe('2025-11-25');
      expect(transport.protocolVersion).toBe('2025-11-25');
      // A session, as 2025-era servers issue them: the SDK sends it with every later request.
      expect(transport.sessionId).toMatch(/^[0-9a-f]{32}$/);

      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(TOOL_NAMES);
      const getConcept = tools.find((t) => t.name === 'get_concept');
      expect(getConcept?.inputSchema.required).toEqual(['name']);

      const all = textOf(await client.callTool({ name: 'list_concepts', arguments: {} }));
      expect(all).toMatch(/^20 concepts:/);
      expect(all).toContain('- eth:PublicSafety: Public safety [EthicalPrinciple]');
      expect(all).toContain('- gl:ReportHazards: Report safety hazards [Guideline]');

      const principles = textOf(await client.callTool({ name: 'list_concepts', arguments: { kind: 'EthicalPrinciple' } }));
      expect(principles).toMatch(/^5 concepts of kind "EthicalPrinciple":/);
      expect(principles).toContain('eth:Honesty: Honesty');
      expect(principles).not.toContain('gl:');

      const concept = await client.callTool({ name: 'get_concept', arguments: { name: 'public safety' } });
      expect(concept.isError).toBe(false);
      const described = textOf(concept);
      expect(described).toContain('Public safety (eth:PublicSafety)');
      expect(described).toContain('Types: eth:EthicalPrinciple');
      expect(described).toContain('Comment: Hold paramount the safety, health and welfare of the public.');
      expect(described).toContain('Other labels: "Öffentliche Sicherheit"@de');
      expect(described).toContain('- Report safety hazards (gl:ReportHazards) via supports');

      const missing = await client.callTool({ name: 'get_concept', arguments: { name: 'NoSuchThing' } });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toContain('No concept named "NoSuchThing"');

      const found = textOf(await client.callTool({ name: 'search_guidelines', arguments: { query: 'safety', limit: 2 } }));
      expect(found).toMatch(/^3 guidelines match "safety" \(showing 2\):/);
      expect(found.split('\n')[1]).toContain('Report safety hazards (gl:ReportHazards)');
      expect(found).toContain('[supports: Public safety]');

      const badArgs = await client.callTool({ name: 'search_guidelines', arguments: { query: 'x', limit: 'many' } });
      expect(badArgs.isError).toBe(true);
      expect(textOf(badArgs)).toContain('"limit" must be an integer');

      expect(await client.ping()).toEqual({});
      // After notifications/initialized the SDK probes GET /mcp for an SSE stream; 405 tells it there is none.
      await waitFor(() => server.stderr().includes('GET /mcp 405'), 'the SDK GET /mcp probe');
    } finally {
      await client.close();
    }
  });

  it("is probed by mcp-deploy's health probe (the v2 client) in the era it speaks, contract included", async () => {
    const result = await probeMcp(server.base, { path: '/mcp', expectTools: TOOL_NAMES, calls: [] }, { timeoutMs: 5_000, contract: true });
    expect(result).toMatchObject({
      era: 'legacy',
      protocolVersion: '2025-11-25',
      serverName: 'ontology-server',
      serverVersion: '9.8.7-test',
    });
    const contract = result.contract!;
    expect(contract.protocol).toEqual({ era: 'legacy', version: '2025-11-25' });
    expect(contract.tools.map((tool) => tool.name)).toEqual(TOOL_NAMES);
    expect(contract.tools.find((tool) => tool.name === 'get_concept')?.inputSchema['required']).toEqual(['name']);
    // It declares tools only: no prompts or resources are asked for, so none are recorded.
    expect(contract.prompts).toEqual([]);
    expect(contract.resources).toEqual([]);
  });

  it('answers GET on /mcp with 405 Allow: POST, DELETE', async () => {
    const res = await fetch(`${server.base}/mcp`, { method: 'GET', headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST, DELETE');
    expect(((await res.json()) as { jsonrpc?: string }).jsonrpc).toBe('2.0');
  });

  it('issues a session on initialize, serves it, answers one it never issued with 404, and ends it on DELETE', async () => {
    // Given a session from initialize
    const init = await postMcp(server.base, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    });
    const session = init.res.headers.get('mcp-session-id');
    expect(session).toMatch(/^[0-9a-f]{32}$/);
    // When it is used, and when a session this process never issued is used
    const inSession = await postMcp(server.base, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { 'mcp-session-id': session! });
    const stranger = await postMcp(server.base, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': 'f'.repeat(32) });
    const standAlone = await postMcp(server.base, { jsonrpc: '2.0', id: 4, method: 'tools/list' });
    // Then the session is served, the stranger gets 404 with a JSON-RPC error, stand-alone requests are served
    expect(inSession.res.status).toBe(200);
    expect(inSession.json.result.tools).toHaveLength(3);
    expect(stranger.res.status).toBe(404);
    expect(stranger.json.error.code).toBe(-32001);
    expect(standAlone.res.status).toBe(200);
    // And DELETE ends it: 204, then it is unknown (404), and DELETE without a session is 400
    const deleted = await fetch(`${server.base}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': session! } });
    expect(deleted.status).toBe(204);
    const after = await postMcp(server.base, { jsonrpc: '2.0', id: 5, method: 'ping' }, { 'mcp-session-id': session! });
    expect(after.res.status).toBe(404);
    expect((await fetch(`${server.base}/mcp`, { method: 'DELETE' })).status).toBe(400);
  });

  it('negotiates the protocol version', async () => {
    const init = (protocolVersion: string) =>
      postMcp(server.base, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      });
    const old = await init('2025-03-26');
    expect(old.res.status).toBe(200);
    expect(old.res.headers.get('content-type')).toBe('application/json');
    expect(old.res.headers.get('content-length')).toBe(String(Buffer.byteLength(old.text)));
    expect(old.json.result.protocolVersion).toBe('2025-03-26');
    expect(old.json.result.serverInfo.version).toBe('9.8.7-test');
    expect((await init('2025-06-18')).json.result.protocolVersion).toBe('2025-06-18');
    expect((await init('2099-01-01')).json.result.protocolVersion).toBe('2025-11-25');
  });

  it('rejects an unsupported MCP-Protocol-Version header with 400 and a JSON-RPC error', async () => {
    const bad = await postMcp(server.base, { jsonrpc: '2.0', id: 5, method: 'ping' }, { 'mcp-protocol-version': '1999-01-01' });
    expect(bad.res.status).toBe(400);
    expect(bad.json.jsonrpc).toBe('2.0');
    expect(bad.json.error.message).toContain('1999-01-01');
    const good = await postMcp(server.base, { jsonrpc: '2.0', id: 6, method: 'ping' }, { 'mcp-protocol-version': '2025-06-18' });
    expect(good.res.status).toBe(200);
    expect(good.json).toEqual({ jsonrpc: '2.0', id: 6, result: {} });
  });

  it('answers unknown methods such as server/discover with -32601', async () => {
    const { res, json } = await postMcp(server.base, { jsonrpc: '2.0', id: 'd1', method: 'server/discover', params: {} });
    expect(res.status).toBe(200);
    expect(json.id).toBe('d1');
    expect(json.error.code).toBe(-32601);
  });

  it('accepts notifications with 202 and an empty body', async () => {
    const { res, text } = await postMcp(server.base, { jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(res.status).toBe(202);
    expect(text).toBe('');
  });

  it('reports parse errors, invalid params and batches by protocol version', async () => {
    const parse = await postMcp(server.base, '{"jsonrpc": "2.0", "id": 1, "method": ');
    expect(parse.json.error.code).toBe(-32700);

    const noName = await postMcp(server.base, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: {} });
    expect(noName.json.error.code).toBe(-32602);
    const unknownTool = await postMcp(server.base, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'nope' } });
    expect(unknownTool.json.error.code).toBe(-32602);

    const batch = [
      { jsonrpc: '2.0', id: 1, method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    ];
    const rejected = await postMcp(server.base, batch, { 'mcp-protocol-version': '2025-06-18' });
    expect(rejected.json.error.code).toBe(-32600);
    // Without the header the spec says to assume 2025-03-26, which still had batches.
    const accepted = await postMcp(server.base, batch);
    expect(accepted.res.status).toBe(200);
    expect(accepted.json.map((r: { id: number }) => r.id)).toEqual([1, 2]);
    expect(accepted.json[1].result.tools).toHaveLength(3);
  });

  it('serves /health, /ontology/status and JSON 404s', async () => {
    const health = await fetch(`${server.base}/health`);
    expect(health.status).toBe(200);
    const body = (await health.json()) as { uptimeSeconds?: unknown };
    expect(body).toMatchObject({ status: 'ok', version: '9.8.7-test', release: 'rel-test-1' });
    expect(typeof body.uptimeSeconds).toBe('number');
    expect(body.uptimeSeconds as number).toBeGreaterThanOrEqual(0);

    const expectedTriples =
      distinctTriples(path.join(EXAMPLE_DIR, 'ontologies', 'engineering-ethics.ttl')) +
      distinctTriples(path.join(EXAMPLE_DIR, 'ontologies', 'guidelines.ttl'));
    const status = await fetch(`${server.base}/ontology/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toEqual({ loaded: true, files: 2, triples: expectedTriples, concepts: 20 });

    const missing = await fetch(`${server.base}/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/json');
    expect(((await missing.json()) as { error?: string }).error).toBe('not found');
    expect(server.stderr()).toMatch(/Z GET \/health 200 \d+\.\dms/);
  });
});

describe('example ontology server: configuration', () => {
  it('loads ONTOLOGY_DIR, takes PORT from the environment and parses the Turtle subset like N3.js', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'onto-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'tricky.ttl');
    writeFileSync(
      file,
      [
        '# a comment with <no iri> and "no string"',
        'BASE <http://example.org/base/>',
        'PREFIX ex: <vocab#>',
        '@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .',
        '@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .',
        'ex:Widget a rdfs:Class ;',
        '  rdfs:label "Widget"@en-GB , \'Gadget\' ;',
        '  rdfs:comment """Line one',
        'with "quotes" and a\\ttab""" ;',
        '  ex:weight 1.5 , 2 , -3.0e2 , true ;',
        '  ex:code "A\\u00e9B"^^xsd:string ;',
        '  ex:parts ( ex:a ex:b "c" ) ;',
        '  ex:owner [ a ex:Person ; rdfs:label "Ann" ] ;',
        '  ex:alias _:x ;',
        '  ex:see <#frag> ; .',
        '_:x rdfs:label "x node" .',
        '[] ex:p ex:Widget .',
        'ex:dotted.name rdfs:label "Dotted" .',
        '',
      ].join('\n'),
    );
    const server = await startHealthy({ env: { ONTOLOGY_DIR: dir }, usePortEnv: true });
    const status = await (await fetch(`${server.base}/ontology/status`)).json();
    expect(status).toEqual({ loaded: true, files: 1, triples: distinctTriples(file), concepts: 2 });

    const { json } = await postMcp(server.base, {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_concept', arguments: { name: 'widget' } },
    });
    const text: string = json.result.content[0].text;
    expect(text).toContain('Widget (ex:Widget)');
    expect(text).toContain('IRI: http://example.org/base/vocab#Widget');
    expect(text).toContain('Comment: Line one with "quotes" and a tab');
    expect(text).toContain('Other labels: Gadget');
    expect(text).toContain('code: AéB');
    expect(text).toContain('see: <http://example.org/base/#frag>');
    await stop(server);
    expect((await server.exited).code).toBe(0);
  });

  it('refuses to start on a Turtle syntax error, naming the file and line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'onto-bad-'));
    tempDirs.push(dir);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'broken.ttl'), '@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e "unterminated .\n');
    const server = await launch({ env: { ONTOLOGY_DIR: dir } });
    const result = await Promise.race([server.exited, sleep(10_000).then(() => null)]);
    expect(result).not.toBeNull();
    expect(result?.code).toBe(2);
    expect(server.stderr()).toContain('broken.ttl:3:');
  });
});

describe('example ontology server: graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the request in progress and exits 0', async () => {
    const server = await startHealthy({ env: { EXAMPLE_SLOW_MS: '2000' } });
    let inFlightDone = false;
    const inFlight = postMcp(server.base, {
      jsonrpc: '2.0',
      id: 42,
      method: 'tools/call',
      params: { name: 'get_concept', arguments: { name: 'Honesty' } },
    }).finally(() => {
      inFlightDone = true;
    });
    // The server logs when it starts the delayed call: only then is the request surely in progress.
    await waitFor(() => server.stderr().includes('EXAMPLE_SLOW_MS: delaying tools/call get_concept'), 'the slow call to start');
    server.child.kill('SIGTERM');

    let refused = false;
    for (let attempt = 0; attempt < 30 && !refused; attempt++) {
      refused = !(await canConnect(server.port));
      if (!refused) await sleep(50);
    }
    expect(refused).toBe(true); // the listener closed ...
    expect(inFlightDone).toBe(false); // ... while the slow request was still being served

    const { res, json } = await inFlight;
    expect(res.status).toBe(200);
    expect(json.id).toBe(42);
    expect(json.result.isError).toBe(false);
    expect(json.result.content[0].text).toContain('Honesty (eth:Honesty)');

    const exit = await Promise.race([server.exited, sleep(12_000).then(() => null)]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.stderr()).toContain('received SIGTERM');
    expect(server.stderr()).toContain('shutdown complete');
    expect(server.stderr()).toMatch(/POST \/mcp 200 \d+\.\dms tools\/call/);
  });
});
