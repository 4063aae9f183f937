import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../source/config/load.js';
import { EventBus, type EngineEvent } from '../../source/run/events.js';
import { runValidate } from '../../source/validate/run-validate.js';
import { groupAlive, startLocalServer } from '../../source/validate/local-server.js';

/**
 * runValidate against the bundled example server, then against copies of it broken one way each.
 * Every case checks that the server it started (its pid comes from the engine's log line) left no
 * process behind.
 */

const example = resolve(import.meta.dirname, '../../examples/ontology-server');
const exampleTools = ['list_concepts', 'get_concept', 'search_guidelines'];
const stepIds = ['validate.files', 'validate.python', 'validate.ontologies', 'validate.env', 'validate.server'];

let workspace: string;

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'mcp-deploy-validate-'));
});

afterAll(async () => {
  await rm(workspace, { recursive: true, force: true });
});

/** A fresh copy of the example, and a config file path beside it. */
async function copyExample(name: string): Promise<{ source: string; configFile: string }> {
  const folder = join(workspace, name);
  const source = join(folder, 'app');
  await cp(example, source, { recursive: true });
  return { source, configFile: join(folder, '.mcpdeployrc') };
}

function configFor(configFile: string, overrides: Record<string, unknown> = {}, environment: NodeJS.ProcessEnv = process.env) {
  const raw = {
    app: 'ontology',
    source: 'app',
    runtime: { type: 'python', entry: 'server.py', python: 'python3' },
    ontologies: ['ontologies/*.ttl'],
    health: {
      timeoutSeconds: 20,
      http: [
        { path: '/health', status: 200, json: { status: 'ok' } },
        { path: '/ontology/status', json: { loaded: true } },
      ],
      mcp: { path: '/mcp', expectTools: exampleTools, calls: [{ tool: 'list_concepts', arguments: {}, expectText: 'Honesty' }] },
    },
    targets: { local: { transport: 'local', path: join(configFile, '..', 'deploy'), publicUrl: 'http://127.0.0.1:8080' } },
    ...overrides,
  };
  return parseConfig(JSON.stringify(raw), configFile, environment);
}

async function validate(config: ReturnType<typeof configFor>, options: { startServer?: boolean } = {}) {
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((event) => events.push(event));
  const result = await runValidate(config, bus, options);
  return { result, events };
}

const finalOf = (events: readonly EngineEvent[], step: string) =>
  events.find(
    (event) => (event.kind === 'step:done' || event.kind === 'step:failed' || event.kind === 'step:skipped') && event.step === step,
  );

function failedOf(events: readonly EngineEvent[], step: string): Extract<EngineEvent, { kind: 'step:failed' }> {
  const event = finalOf(events, step);
  expect(event?.kind, `${step} should have failed`).toBe('step:failed');
  return event as Extract<EngineEvent, { kind: 'step:failed' }>;
}

/** The pid the server step logged; then proves neither it nor anything of its group is left. */
function expectServerGone(events: readonly EngineEvent[]): number {
  const line = events.find(
    (event) => event.kind === 'log' && event.source === 'engine' && event.line.startsWith('Started the server locally'),
  );
  const pid = Number(/pid (\d+)/.exec(line?.kind === 'log' ? line.line : '')?.[1]);
  expect(pid).toBeGreaterThan(1);
  expect(groupAlive(pid)).toBe(false);
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

describe('runValidate', () => {
  it('passes every step on the example server and lists its tools', async () => {
    const { source, configFile } = await copyExample('good');
    await writeFile(join(source, '..', 'app.env'), 'ONTOLOGY_TOKEN=from-the-env-file\n');
    const config = configFor(configFile, { env: { required: ['ONTOLOGY_TOKEN'], file: 'app.env' } });
    const { result, events } = await validate(config);

    expect(result.ok).toBe(true);
    expect(result.tools).toEqual(exampleTools);
    expect(result.files).toBeGreaterThanOrEqual(4);
    const starts = events.filter((event) => event.kind === 'step:start').map((event) => (event.kind === 'step:start' ? event.step : ''));
    expect(starts).toEqual(stepIds);
    for (const step of stepIds) expect(finalOf(events, step)?.kind, step).toBe('step:done');
    const server = finalOf(events, 'validate.server');
    expect(server?.kind === 'step:done' ? server.detail : '').toBe(`tools: ${exampleTools.join(', ')}`);
    expect(finalOf(events, 'validate.files')).toMatchObject({ detail: expect.stringMatching(/^\d+ files, \d+\.\d kB$/) });
    expect(events.some((event) => event.kind === 'log' && event.source === 'server' && event.line.includes('listening on'))).toBe(true);
    expect(
      events.some(
        (event) =>
          event.kind === 'step:progress' && event.step === 'validate.server' && event.unit === 'checks' && event.done === event.total,
      ),
    ).toBe(true);
    expectServerGone(events);
  });

  it('skips the server step when asked, with a reason', async () => {
    const { configFile } = await copyExample('no-server');
    const { result, events } = await validate(configFor(configFile), { startServer: false });
    expect(result).toMatchObject({ ok: true, tools: [] });
    expect(finalOf(events, 'validate.server')).toMatchObject({ kind: 'step:skipped', reason: expect.stringContaining('startServer') });
  });

  it('reports a Python syntax error as file:line and does not start the server', async () => {
    const { source, configFile } = await copyExample('bad-python');
    await writeFile(join(source, 'helpers.py'), 'import os\n\ndef broken(:\n    return 1\n');
    const { result, events } = await validate(configFor(configFile));

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.python');
    expect(failed.details?.some((line) => line.startsWith('helpers.py:3: '))).toBe(true);
    expect(failed.details).toHaveLength(1);
    // Independent checks still ran.
    expect(finalOf(events, 'validate.ontologies')?.kind).toBe('step:done');
    expect(finalOf(events, 'validate.server')).toMatchObject({ kind: 'step:skipped' });
  });

  it('reports a Turtle error as file:line, and a glob that matches nothing', async () => {
    const { source, configFile } = await copyExample('bad-turtle');
    await writeFile(
      join(source, 'ontologies', 'broken.ttl'),
      '@prefix ex: <http://example.org/> .\n\nex:a ex:b ex:c .\nex:d ex:e "unterminated .\n',
    );
    const config = configFor(configFile, { ontologies: ['ontologies/*.ttl', 'missing/*.ttl'] });
    const { result, events } = await validate(config);

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.ontologies');
    expect(failed.details?.some((line) => line.startsWith('ontologies/broken.ttl:4: '))).toBe(true);
    expect(failed.details).toContain('ontologies[1] "missing/*.ttl" matched no file that ships');
    expect(finalOf(events, 'validate.python')?.kind).toBe('step:done');
    // The example refuses to start on a bad ontology: that is reported too, and cleaned up.
    const server = failedOf(events, 'validate.server');
    expect(server.message).toMatch(/exited with code 2/);
    expectServerGone(events);
  });

  it('checks the ontologies that ship: by their bytes when a name is not UTF-8, and not the excluded ones', async () => {
    const { source, configFile } = await copyExample('turtle-names');
    const dir = join(source, 'ontologies');
    // "café.ttl" and "brisé.ttl" in Latin-1; the second is broken.
    await writeFile(
      Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.ttl')]),
      '@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\n',
    );
    await writeFile(
      Buffer.concat([Buffer.from(`${dir}/bris`), Buffer.from([0xe9]), Buffer.from('.ttl')]),
      '@prefix ex: <http://example.org/> .\nex:a ex:b .\n',
    );
    await mkdir(join(source, 'drafts'));
    await writeFile(join(source, 'drafts', 'wip.ttl'), 'not turtle at all');
    const config = configFor(configFile, { ontologies: ['./ontologies/*.ttl', 'drafts/*.ttl'], exclude: ['drafts/'] });
    const { result, events } = await validate(config, { startServer: false });

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.ontologies');
    expect(failed.details).toEqual([
      'ontologies[1] "drafts/*.ttl" matched no file that ships',
      expect.stringMatching(/^ontologies\/bris\\xE9\.ttl:2: /),
    ]);
  });

  it('names a missing required variable and never prints any value', async () => {
    const { source, configFile } = await copyExample('missing-env');
    const canary = 'canary-7f3e9b21-do-not-print';
    await writeFile(join(source, '..', 'app.env'), `FROM_FILE_SECRET=${canary}-file\n`);
    const environment = { ...process.env, MCP_DEPLOY_TEST_SECRET: canary };
    const config = configFor(
      configFile,
      { env: { required: ['MCP_DEPLOY_TEST_SECRET', 'FROM_FILE_SECRET', 'MCP_DEPLOY_TEST_ABSENT'], file: 'app.env' } },
      environment,
    );
    process.env['MCP_DEPLOY_TEST_SECRET'] = canary;
    let outcome: Awaited<ReturnType<typeof validate>>;
    try {
      outcome = await validate(config);
    } finally {
      delete process.env['MCP_DEPLOY_TEST_SECRET'];
    }
    const { result, events } = outcome;

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.env');
    expect(failed.message).toContain('MCP_DEPLOY_TEST_ABSENT');
    expect(failed.message).not.toContain('MCP_DEPLOY_TEST_SECRET');
    expect(failed.details).toEqual([expect.stringMatching(/^MCP_DEPLOY_TEST_ABSENT is not set/)]);
    expect(JSON.stringify(events)).not.toContain(canary);
    // The server still ran (it does not need the variable), with the env file loaded.
    expect(finalOf(events, 'validate.server')?.kind).toBe('step:done');
    expectServerGone(events);
  });

  it('reports a missing env.file by its path', async () => {
    const { configFile } = await copyExample('missing-env-file');
    const { result, events } = await validate(configFor(configFile, { env: { required: ['X'], file: 'nope.env' } }), {
      startServer: false,
    });
    expect(result.ok).toBe(false);
    expect(failedOf(events, 'validate.env').message).toBe(`env.file ${join(configFile, '..', 'nope.env')} does not exist.`);
  });

  it('reports a server that exits at start with its exit code and last output lines', async () => {
    const { source, configFile } = await copyExample('exits');
    const lines = Array.from({ length: 30 }, (_, index) => `print("boot line ${index + 1}")`).join('\n');
    await writeFile(
      join(source, 'server.py'),
      `import sys\n${lines}\nprint("fatal: cannot open database", file=sys.stderr)\nsys.exit(3)\n`,
    );
    const { result, events } = await validate(configFor(configFile));

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.server');
    expect(failed.message).toBe('The server exited with code 3 before it answered.');
    expect(failed.details).toHaveLength(20);
    expect(failed.details?.at(-1)).toBe('server: fatal: cannot open database');
    expect(failed.details).toContain('server: boot line 30');
    expect(failed.details).not.toContain('server: boot line 1');
    expectServerGone(events);
  });

  it('fails fast with a configuration error when the MCP path is wrong (404)', async () => {
    const { configFile } = await copyExample('wrong-path');
    const config = configFor(configFile, {
      // Longer than the test may run: only stopping at the first answer can pass.
      health: { timeoutSeconds: 600, http: [{ path: '/health' }], mcp: { path: '/mcp/v2', expectTools: [] } },
    });
    const { result, events } = await validate(config);

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.server');
    expect(failed.message).toMatch(/^Health check misconfigured: POST http:\/\/127\.0\.0\.1:\d+\/mcp\/v2 answered 404/);
    expect(failed.hint).toMatch(/check the path/);
    expectServerGone(events);
  });

  it('fails when a tool in expectTools is missing, naming it and the tools found', async () => {
    const { configFile } = await copyExample('missing-tool');
    const config = configFor(configFile, {
      health: { timeoutSeconds: 3, http: [], mcp: { expectTools: ['list_concepts', 'translate_concept'] } },
    });
    const { result, events } = await validate(config);

    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.server');
    expect(failed.message).toContain('tools/list lacks "translate_concept"');
    expect(failed.message).toContain(`the server lists ${exampleTools.join(', ')}`);
    expectServerGone(events);
  });

  it('reports a missing interpreter as a failed step naming what to install', async () => {
    const { configFile } = await copyExample('no-python');
    const config = configFor(configFile, { runtime: { type: 'python', entry: 'server.py', python: 'python-does-not-exist-3' } });
    const { result, events } = await validate(config);
    expect(result.ok).toBe(false);
    const failed = failedOf(events, 'validate.python');
    expect(failed.message).toBe('Python interpreter "python-does-not-exist-3" was not found.');
    expect(failed.hint).toMatch(/apt-get install python3/);
    expect(finalOf(events, 'validate.server')).toMatchObject({ kind: 'step:skipped' });
  });
});

describe('startLocalServer', () => {
  it('escalates to SIGKILL for a process of the group that ignores SIGTERM, and leaves nothing behind', async () => {
    const { configFile } = await copyExample('stubborn');
    // `trap "" TERM` makes the background sleep ignore SIGTERM (inherited), as a stuck worker would.
    const config = configFor(configFile, {
      runtime: { type: 'command', command: `sh -c 'trap "" TERM; sleep 300 & exec python3 -u server.py --port {port}'` },
    });
    const lines: string[] = [];
    const server = await startLocalServer(config, { onLine: (line) => lines.push(line) });
    const deadline = performance.now() + 10_000;
    while (!lines.some((line) => line.includes('listening on')) && performance.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines.some((line) => line.includes(`listening on ${server.baseUrl}`))).toBe(true);
    expect(groupAlive(server.pid)).toBe(true);

    const started = performance.now();
    await server.stop();
    const took = performance.now() - started;
    expect(groupAlive(server.pid)).toBe(false);
    // SIGTERM, the grace, then SIGKILL (the trapped sleep would otherwise outlive the test).
    expect(took).toBeGreaterThanOrEqual(4_900);
    expect(await server.exited).toMatchObject({ code: 0 });
  });
});
