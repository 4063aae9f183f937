import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { validateRun } from '../../source/engine/validate-gate.js';
import { EventBus, type EngineEvent } from '../../source/run/events.js';

/** `mcp-deploy validate` with a build: the build runs first, and the checks look only at what it made. */

const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;
let project: string;

beforeAll(() => {
  project = join(mkdtempSync(join(tmpdir(), 'mcpd-validate-build-')), 'app');
  cpSync(exampleServer, project, { recursive: true, filter: (path) => !path.includes('__pycache__') });
});
afterAll(() => rmSync(join(project, '..'), { recursive: true, force: true }));

function run(build: Record<string, unknown>) {
  const config = parseConfig(
    JSON.stringify({
      app: 'demo',
      source: project,
      runtime: { type: 'python', entry: 'server.py' },
      build,
      targets: { t: { transport: 'local', path: join(project, '..', 'host'), publicUrl: 'http://127.0.0.1:1' } },
    }),
    join(project, '.mcpdeployrc.json'),
    {},
  );
  const bus = new EventBus();
  const events: EngineEvent[] = [];
  bus.on((event) => events.push(event));
  const context = {
    config,
    target: selectTarget(config, undefined),
    bus,
    operator: 'tester',
    localHost: 'here',
    connect: () => Promise.reject(new Error('validate never connects')),
    signal: new AbortController().signal,
  };
  return { events, result: validateRun(context, { startServer: false }) };
}

const started = (events: readonly EngineEvent[]) => events.flatMap((event) => (event.kind === 'step:start' ? [event.step] : []));

describe('validate with a build', () => {
  it('builds first, in the source folder, then checks only what build.output ships', async () => {
    const { events, result } = run({ command: 'mkdir -p out && cp server.py ontology.py out/ && echo built', output: 'out' });
    expect((await result).ok).toBe(true);
    expect(started(events).slice(0, 2)).toEqual(['build', 'validate.files']);
    expect(existsSync(join(project, 'out', 'server.py'))).toBe(true);
    const declared = events.find((event) => event.kind === 'run:start');
    expect(declared?.kind === 'run:start' && declared.steps[0]).toEqual({ id: 'build', title: 'Build' });
    // The two files the build wrote ship, not the whole folder (server, modules, ontologies, requirements).
    expect(events.find((event) => event.kind === 'step:done' && event.step === 'validate.files')).toMatchObject({
      detail: expect.stringMatching(/^2 files, /),
    });
    expect(events.some((event) => event.kind === 'log' && event.line === 'built')).toBe(true);
  });

  it('stops at a failed build: no check runs on what it did not make', async () => {
    const { events, result } = run({ command: 'echo "syntax error in src/x.ts" >&2; exit 4' });
    expect((await result).ok).toBe(false);
    expect(started(events)).toEqual(['build']);
    expect(events.find((event) => event.kind === 'step:failed')).toMatchObject({
      step: 'build',
      message: expect.stringContaining('exited 4'),
      details: ['last lines of the build:', '  syntax error in src/x.ts'],
    });
    expect(events.at(-1)).toMatchObject({ kind: 'run:end', ok: false });
  });
});
