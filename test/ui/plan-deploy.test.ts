import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import type { EngineContext } from '../../source/engine/context.js';
import { EventBus } from '../../source/run/events.js';
import { diffTools, planDeploy } from '../../source/engine/plan.js';
import { readInstallInputs } from '../../source/runtime/install-inputs.js';
import { decideInstall } from '../../source/runtime/install-plan.js';
import { unprobedHost } from '../../source/runtime/host-runtime.js';
import { hostLayout } from '../../source/host/layout.js';
import { LocalTransport } from '../../source/remote/local-transport.js';

/**
 * planDeploy against a host laid out on this machine: what the plan screen shows must be what the
 * upload and install steps would do, and reading it must change nothing.
 */

const transport = new LocalTransport();
const active = '20261124T101500Z-abc1234';
let base: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'mcp-deploy-plan-'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function entry(path: string, text: string) {
  return { path, size: Buffer.byteLength(text), mode: 0o644, sha256: createHash('sha256').update(text).digest('hex') };
}

async function setUp(options: { withActive: boolean; requirements?: string }) {
  const source = join(base, 'app');
  const root = join(base, 'host');
  await mkdir(source, { recursive: true });
  await writeFile(join(source, 'server.py'), 'print("v2")\n');
  await writeFile(join(source, 'same.py'), 'same\n');
  await writeFile(join(source, 'new.py'), 'new file\n');
  if (options.requirements !== undefined) await writeFile(join(source, 'requirements.txt'), options.requirements);
  const configFile = join(base, '.mcpdeployrc');
  const config = parseConfig(
    JSON.stringify({
      app: 'demo',
      source: 'app',
      runtime: {
        type: 'python',
        entry: 'server.py',
        python: 'python3',
        ...(options.requirements !== undefined ? { requirements: 'requirements.txt' } : {}),
      },
      targets: { local: { transport: 'local', path: root, publicUrl: 'http://127.0.0.1:8080' } },
    }),
    configFile,
    {},
  );
  const layout = hostLayout(root);
  if (options.withActive) {
    await mkdir(layout.metaDir(active), { recursive: true });
    const manifest = [entry('server.py', 'print("v1")\n'), entry('same.py', 'same\n'), entry('old.py', 'gone\n')];
    await writeFile(layout.manifestJson(active), JSON.stringify(manifest));
    const oldHash = options.requirements === undefined ? null : 'b'.repeat(64);
    await writeFile(
      layout.releaseJson(active),
      JSON.stringify({
        id: active,
        createdAt: '2026-11-24T10:15:00Z',
        gitSha: 'abc1234',
        operator: 'alice',
        requirementsHash: oldHash,
        files: 3,
        bytes: 30,
      }),
    );
    await writeFile(layout.toolsJson(active), JSON.stringify(['search', 'fetch_doc']));
    await writeFile(
      layout.stateFile,
      JSON.stringify({
        version: 1,
        app: 'demo',
        active: { colour: 'blue', port: 5002, release: active },
        previous: null,
        updatedAt: '2026-11-24T10:15:00Z',
      }),
    );
  }
  const context: EngineContext = {
    config,
    target: selectTarget(config, 'local'),
    bus: new EventBus(),
    operator: 'tester',
    localHost: 'here',
    connect: async () => transport,
    signal: new AbortController().signal,
  };
  return { context, config, layout };
}

describe('planDeploy', () => {
  it('compares the local files with the active release’s manifest, and its tools with the new ones', async () => {
    const { context } = await setUp({ withActive: true });
    const plan = await planDeploy(context, transport, { tools: ['search', 'summarize'] });
    expect(plan.base).toBe(active);
    expect(plan.baseHasManifest).toBe(true);
    expect(plan.files).toEqual({ total: 3, added: 1, changed: 1, removed: 1, unchanged: 1 });
    expect(plan.bytes.upload).toBe(Buffer.byteLength('print("v2")\n') + Buffer.byteLength('new file\n'));
    expect(plan.tools).toEqual({
      active: ['search', 'fetch_doc'],
      next: ['search', 'summarize'],
      appearing: ['summarize'],
      disappearing: ['fetch_doc'],
    });
    expect(plan.state?.active?.release).toBe(active);
    expect(plan.lock).toEqual({ held: false });
    expect(plan.requirements).toEqual({
      kind: 'none',
      reason: 'no runtime.requirements and no pyproject.toml; the server runs on python3',
    });
    expect(plan.nothingChanged).toBe(false);
  });

  it('knows when a deploy would change nothing: the same files, no requirements, no environment', async () => {
    // Given an active release whose manifest is exactly the local tree
    const { context, layout } = await setUp({ withActive: true });
    const local = ['print("v2")\n', 'same\n', 'new file\n'];
    await writeFile(
      layout.manifestJson(active),
      JSON.stringify([entry('new.py', local[2]!), entry('same.py', local[1]!), entry('server.py', local[0]!)]),
    );

    // Then the plan says so; with an environment configured it cannot tell, and says it changes something
    expect((await planDeploy(context, transport)).nothingChanged).toBe(true);
    const withEnv = { ...context, config: { ...context.config, env: { required: ['API_TOKEN'] } } };
    expect((await planDeploy(withEnv, transport)).nothingChanged).toBe(false);
  });

  it('says the requirements changed when the active release recorded another venv', async () => {
    const { context, config } = await setUp({ withActive: true, requirements: 'rdflib==7.1.1\n' });
    const plan = await planDeploy(context, transport);
    // This host has no uv, so the plan is pip's, keyed as the install step keys it.
    const { plan: install } = decideInstall(config, readInstallInputs(config), { ...unprobedHost, probed: true });
    expect(plan.requirements).toMatchObject({
      kind: 'venv',
      hash: install.kind === 'venv' ? install.hash : '',
      activeHash: 'b'.repeat(64),
      changed: true,
      why: 'pip install -r requirements.txt: the host has no uv',
      problem: null,
    });
    expect(plan.tools.next).toBeNull();
  });

  it('plans a first deploy as every file new, and creates nothing on the host', async () => {
    const { context, layout } = await setUp({ withActive: false });
    const plan = await planDeploy(context, transport, { tools: ['search'] });
    expect(plan.base).toBeNull();
    expect(plan.files).toMatchObject({ total: 3, added: 3, changed: 0, removed: 0 });
    expect(plan.bytes.upload).toBe(plan.bytes.total);
    expect(plan.tools).toMatchObject({ active: null, next: ['search'], appearing: [], disappearing: [] });
    expect((await transport.run(['test', '-e', layout.root])).code).not.toBe(0);
  });

  it('reports a held lock', async () => {
    const { context, layout } = await setUp({ withActive: true });
    await mkdir(layout.lockDir);
    const plan = await planDeploy(context, transport);
    expect(plan.lock.held).toBe(true);
  });
});

describe('diffTools', () => {
  it('knows nothing about changes when either side is unknown', () => {
    expect(diffTools(null, ['a'])).toEqual({ active: null, next: ['a'], appearing: [], disappearing: [] });
    expect(diffTools(['a'], null)).toEqual({ active: ['a'], next: null, appearing: [], disappearing: [] });
  });
});
