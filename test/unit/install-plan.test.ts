import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../source/config/load.js';
import { hostQuestions, type HostRuntime, unprobedHost } from '../../source/runtime/host-runtime.js';
import { readInstallInputs } from '../../source/runtime/install-inputs.js';
import { decideInstall } from '../../source/runtime/install-plan.js';

/**
 * What the install step will do, from the files in a source folder and the tools on the host:
 * which manager, which command, and above all what keys the shared folder (a key that changes
 * too often reinstalls for nothing; one that changes too rarely runs a release on the wrong deps).
 */

let source: string;
beforeEach(() => {
  source = mkdtempSync(join(tmpdir(), 'mcpd-install-plan-'));
});
afterEach(() => {
  rmSync(source, { recursive: true, force: true });
});

const host = (overrides: Partial<HostRuntime> = {}): HostRuntime => ({
  probed: true,
  node: '20.20.2',
  managers: { npm: '11.6.0', pnpm: null, yarn: null },
  uv: null,
  ...overrides,
});

function files(entries: Record<string, string>): void {
  for (const [path, text] of Object.entries(entries)) {
    mkdirSync(join(source, path, '..'), { recursive: true });
    writeFileSync(join(source, path), text);
  }
}

function configOf(runtime: Record<string, unknown>) {
  return parseConfig(
    JSON.stringify({
      app: 'demo',
      source: '.',
      runtime,
      targets: { t: { transport: 'local', path: '/srv/demo', publicUrl: 'http://127.0.0.1:1' } },
    }),
    join(source, '.mcpdeployrc'),
    {},
  );
}

function decide(runtime: Record<string, unknown>, on: HostRuntime = host()) {
  const config = configOf(runtime);
  return decideInstall(config, readInstallInputs(config), on);
}

const lock = (version: string, deps: Record<string, string> = { zod: '4.0.0' }) =>
  JSON.stringify({
    name: 'demo',
    version,
    lockfileVersion: 3,
    packages: {
      '': { name: 'demo', version, dependencies: deps },
      ...Object.fromEntries(Object.entries(deps).map(([name, at]) => [`node_modules/${name}`, { version: at }])),
    },
  });
const manifest = (version: string, deps: Record<string, string> = { zod: '4.0.0' }, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    name: 'demo',
    version,
    scripts: { prepare: 'npm run build', start: 'node dist/index.js' },
    dependencies: deps,
    ...extra,
  });

describe('node installs', () => {
  it('installs from package-lock.json with npm ci into node_modules, from a package.json without scripts', () => {
    files({ 'package.json': manifest('1.0.0'), 'package-lock.json': lock('1.0.0'), '.npmrc': 'fund=false\n' });
    const { plan, why, problem } = decide({ type: 'node', entry: 'dist/index.js' });
    expect(problem).toBeNull();
    expect(plan).toMatchObject({
      kind: 'deps',
      tool: 'npm',
      command: 'npm ci --omit=dev --no-audit --no-fund',
      copy: ['package-lock.json', '.npmrc'],
      paths: ['node_modules'],
      pathPrefix: null,
    });
    expect(why).toBe('npm ci --omit=dev --no-audit --no-fund: package-lock.json is the lockfile, for node 20 on the host');
    const installed = JSON.parse(plan.kind === 'deps' ? (plan.packageJson ?? '{}') : '{}');
    expect(installed).toEqual({ name: 'demo', version: '1.0.0', dependencies: { zod: '4.0.0' } });
  });

  it('keys the folder by the dependencies and the node major: not by the app’s own version or a node patch release', () => {
    files({ 'package.json': manifest('1.0.0'), 'package-lock.json': lock('1.0.0') });
    const base = decide({ type: 'node', entry: 'x.js' }).plan;
    const patch = decide({ type: 'node', entry: 'x.js' }, host({ node: '20.21.0' })).plan;
    files({ 'package.json': manifest('1.0.1'), 'package-lock.json': lock('1.0.1') });
    const bumped = decide({ type: 'node', entry: 'x.js' }).plan;
    const major = decide({ type: 'node', entry: 'x.js' }, host({ node: '22.1.0' })).plan;
    files({ 'package.json': manifest('1.0.1', { zod: '4.0.1' }), 'package-lock.json': lock('1.0.1', { zod: '4.0.1' }) });
    const changed = decide({ type: 'node', entry: 'x.js' }).plan;
    const hash = (plan: typeof base) => (plan.kind === 'deps' ? plan.hash : '');
    expect(hash(patch)).toBe(hash(base));
    expect(hash(bumped)).toBe(hash(base));
    expect(hash(major)).not.toBe(hash(base));
    expect(hash(changed)).not.toBe(hash(base));
    expect(hash(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('uses pnpm or yarn when theirs is the lockfile, and says what to do when the host lacks it', () => {
    files({ 'package.json': manifest('1.0.0'), 'pnpm-lock.yaml': 'lockfileVersion: 9.0\n' });
    expect(decide({ type: 'node', entry: 'x.js' }, host({ managers: { npm: '11.0.0', pnpm: '9.12.0', yarn: null } })).plan).toMatchObject({
      tool: 'pnpm',
      command: 'pnpm install --frozen-lockfile --prod',
      copy: ['pnpm-lock.yaml'],
    });
    const missing = decide({ type: 'node', entry: 'x.js' });
    expect(missing.problem).toEqual({
      message: 'pnpm-lock.yaml is the lockfile, but the host has no pnpm.',
      hint: 'Install pnpm on the host (npm install -g pnpm, or corepack enable pnpm), or keep only package-lock.json.',
    });
  });

  it('prefers the lockfile of package.json’s packageManager when several are present; Yarn 2+ is asked for a node_modules', () => {
    files({
      'package.json': manifest('1.0.0', { zod: '4.0.0' }, { packageManager: 'yarn@4.5.0' }),
      'package-lock.json': lock('1.0.0'),
      'yarn.lock': '# yarn lockfile\n',
    });
    const { plan, why } = decide({ type: 'node', entry: 'x.js' }, host({ managers: { npm: '11.0.0', pnpm: null, yarn: '4.5.0' } }));
    expect(plan).toMatchObject({ tool: 'yarn', command: 'YARN_NODE_LINKER=node-modules yarn workspaces focus --all --production' });
    expect(why).toContain('yarn.lock matches packageManager "yarn@4.5.0" (also present: package-lock.json)');
    const classic = decide({ type: 'node', entry: 'x.js' }, host({ managers: { npm: '11.0.0', pnpm: null, yarn: '1.22.22' } }));
    expect(classic.plan).toMatchObject({ command: 'yarn install --frozen-lockfile --production --non-interactive' });
  });

  it('checks engines.node against the host’s node, and a host without node', () => {
    files({ 'package.json': manifest('1.0.0', { zod: '4.0.0' }, { engines: { node: '>=22' } }), 'package-lock.json': lock('1.0.0') });
    const old = decide({ type: 'node', entry: 'x.js' });
    expect(old.node).toEqual({ version: '20.20.2', engines: '>=22', satisfied: false });
    expect(old.problem?.message).toBe('Node 20.20.2 on the host does not satisfy engines.node ">=22" in package.json.');
    expect(decide({ type: 'node', entry: 'x.js' }, host({ node: '24.1.0' })).problem).toBeNull();
    const none = decide({ type: 'node', entry: 'x.js', node: '/opt/node/bin/node' }, host({ node: null }));
    expect(none.problem?.message).toBe('/opt/node/bin/node was not found on the host.');
    expect(none.plan).toMatchObject({ pathPrefix: '/opt/node/bin' });
  });

  it('runs a runtime.install string in place of the manager’s command, still cached', () => {
    files({ 'package.json': manifest('1.0.0'), 'package-lock.json': lock('1.0.0') });
    const { plan } = decide({ type: 'node', entry: 'x.js', install: 'npm ci --omit=dev --ignore-scripts' });
    expect(plan).toMatchObject({ kind: 'deps', tool: 'npm', command: 'npm ci --omit=dev --ignore-scripts' });
  });

  it('refuses what it cannot install from: dependencies without a lockfile, workspaces, a bun lockfile', () => {
    files({ 'package.json': manifest('1.0.0') });
    expect(() => decide({ type: 'node', entry: 'x.js' })).toThrow('package.json has dependencies but there is no lockfile next to it.');
    files({ 'package.json': JSON.stringify({ name: 'demo', version: '1.0.0', workspaces: ['packages/*'] }) });
    expect(() => decide({ type: 'node', entry: 'x.js' })).toThrow('package.json declares workspaces');
    files({ 'package.json': manifest('1.0.0'), 'bun.lock': '{}' });
    expect(() => decide({ type: 'node', entry: 'x.js' })).toThrow('bun.lock is a lockfile runtime.type "node" does not install from');
  });

  it('has nothing to install without dependencies, and then asks the host nothing', () => {
    files({ 'package.json': JSON.stringify({ name: 'demo', version: '1.0.0' }) });
    const config = configOf({ type: 'node', entry: 'x.js' });
    const inputs = readInstallInputs(config);
    expect(decideInstall(config, inputs, host()).plan).toEqual({ kind: 'none', reason: 'package.json has no dependencies' });
    expect(hostQuestions(inputs)).toEqual({ node: false, uv: false });
  });
});

describe('cached installs of any runtime', () => {
  const runtime = {
    type: 'command',
    command: 'bun run server.ts',
    install: { command: 'bun install --production', cacheKey: ['package.json', 'bun.lock'], cachePaths: ['node_modules'] },
  };

  it('keys the folder by the cacheKey files and the command, copies them in and links the cachePaths', () => {
    files({ 'package.json': '{"name":"a"}', 'bun.lock': 'v1', 'server.ts': 'one' });
    const first = decide(runtime).plan;
    expect(first).toMatchObject({
      kind: 'deps',
      tool: 'command',
      command: 'bun install --production',
      copy: ['package.json', 'bun.lock'],
      packageJson: null,
      paths: ['node_modules'],
    });
    files({ 'server.ts': 'two' });
    const sourceChanged = decide(runtime).plan;
    files({ 'bun.lock': 'v2' });
    const lockChanged = decide(runtime).plan;
    const other = decide({ ...runtime, install: { ...runtime.install, command: 'bun install' } }).plan;
    const hash = (plan: typeof first) => (plan.kind === 'deps' ? plan.hash : '');
    expect(hash(sourceChanged)).toBe(hash(first));
    expect(hash(lockChanged)).not.toBe(hash(first));
    expect(hash(other)).not.toBe(hash(first));
    // Nothing about it depends on the host: it is not asked.
    expect(hostQuestions(readInstallInputs(configOf(runtime)))).toEqual({ node: false, uv: false });
  });

  it('says which cacheKey file is missing', () => {
    files({ 'package.json': '{}' });
    expect(() => decide(runtime)).toThrow('runtime.install.cacheKey: bun.lock was not found in');
  });
});

describe('python installs', () => {
  it('keeps the key a requirements venv always had when pip installs it, so existing venvs are reused', () => {
    files({ 'requirements.txt': 'rdflib==7.1.1\n' });
    const { plan, why } = decide({ type: 'python', entry: 'server.py', requirements: 'requirements.txt', pip_args: ['--no-index'] });
    const legacy = createHash('sha256')
      .update('rdflib==7.1.1\n')
      .update('\0')
      .update('["--no-index"]')
      .update('\0')
      .update('python3')
      .digest('hex');
    expect(plan).toMatchObject({ kind: 'venv', tool: 'pip', hash: legacy, requirements: 'requirements.txt', needsInstall: true });
    expect(why).toBe('pip install -r requirements.txt: the host has no uv');
    const withUv = decide(
      { type: 'python', entry: 'server.py', requirements: 'requirements.txt', pip_args: ['--no-index'] },
      host({ uv: '0.9.1' }),
    );
    expect(withUv.plan).toMatchObject({ tool: 'uv-pip' });
    expect(withUv.plan.kind === 'venv' && withUv.plan.hash).not.toBe(legacy);
  });

  it('installs pyproject.toml’s dependencies with pip without uv, and from uv.lock with uv sync when the host has uv', () => {
    files({ 'pyproject.toml': '[project]\nname = "x"\nversion = "1"\ndependencies = ["mcp>=1.2", "rdflib==7.1.1"]\n' });
    const pip = decide({ type: 'python', entry: 'server.py' });
    expect(pip.plan).toMatchObject({
      kind: 'venv',
      tool: 'pip',
      requirements: null,
      requirementsText: 'mcp>=1.2\nrdflib==7.1.1\n',
      needsInstall: true,
    });
    expect(pip.why).toBe('pip install: 2 dependencies from pyproject.toml');
    files({ 'uv.lock': 'version = 1\n' });
    const uv = decide({ type: 'python', entry: 'server.py' }, host({ uv: '0.9.1' }));
    expect(uv.plan).toMatchObject({ tool: 'uv', requirementsText: null });
    expect(uv.why).toBe('uv sync --frozen: uv.lock pins the dependencies and the host has uv 0.9.1');
    const unlocked = decide({ type: 'python', entry: 'server.py' });
    expect(unlocked.why).toContain('uv.lock is not used because the host has no uv');
    // The lock keys uv's venv: a change to it is a new venv, and so is the tool.
    files({ 'uv.lock': 'version = 1\n# changed\n' });
    const relocked = decide({ type: 'python', entry: 'server.py' }, host({ uv: '0.9.1' }));
    expect(relocked.plan.kind === 'venv' && uv.plan.kind === 'venv' && relocked.plan.hash !== uv.plan.hash).toBe(true);
  });

  it('makes a bare venv for a pyproject.toml with no dependencies, without asking the host', () => {
    files({ 'pyproject.toml': '[project]\nname = "x"\nversion = "1"\n' });
    const config = configOf({ type: 'python', entry: 'server.py' });
    const inputs = readInstallInputs(config);
    expect(hostQuestions(inputs)).toEqual({ node: false, uv: false });
    expect(decideInstall(config, inputs, unprobedHost)).toMatchObject({
      plan: { kind: 'venv', needsInstall: false },
      why: 'a bare venv: no dependencies to install',
    });
  });

  it('reports a pyproject.toml that is not TOML, or whose dependencies are not strings', () => {
    files({ 'pyproject.toml': '[project\nname = "x"\n' });
    expect(() => decide({ type: 'python', entry: 'server.py' })).toThrow('pyproject.toml is not valid TOML');
    files({ 'pyproject.toml': '[project]\ndependencies = [1]\n' });
    expect(() => decide({ type: 'python', entry: 'server.py' })).toThrow('project.dependencies must be a list of strings');
  });
});
