import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { planDeploy } from '../../source/engine/plan.js';
import { rollback } from '../../source/engine/rollback.js';
import type { EngineEvent } from '../../source/run/events.js';
import { sshdSkipReason } from '../harness/index.js';
import { namesIn } from './node-project.js';
import { freshJson } from './fresh-get.js';
import { createWorld, type World } from './world.js';

/**
 * A pyproject.toml server over a real sshd, with no package index (PyPI is out of reach, as on
 * many hosts): its one dependency is a wheel in a wheelhouse on the host, which pip installs into
 * the shared venv. The uv path runs where the host has uv.
 */
const skip = await sshdSkipReason();

/** A minimal, valid wheel of a one-module package, made with the standard library. */
function buildWheel(dir: string, name: string, version: string): void {
  const program = `
import base64, hashlib, sys, zipfile
name, version, path = sys.argv[1], sys.argv[2], sys.argv[3]
info = f"{name}-{version}.dist-info"
files = {
    f"{name}.py": f'VERSION = "{version}"\\n',
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: mcp-deploy-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(t)},{len(t.encode())}\\n" for p, t in files.items()) + f"{info}/RECORD,,\\n"
with zipfile.ZipFile(f"{path}/{name}-{version}-py3-none-any.whl", "w") as wheel:
    for p, t in files.items():
        wheel.writestr(p, t)
    wheel.writestr(f"{info}/RECORD", record)
`;
  execFileSync('python3', ['-c', program, name, version, dir]);
}

/** The example server, reporting the dependency's version on /health when it can import it. */
function reportDependency(text: string): string {
  return text
    .replace(
      'from collections import namedtuple\n',
      'from collections import namedtuple\ntry:\n    import mcpd_tinydep\n    DEPENDENCY = mcpd_tinydep.VERSION\nexcept ImportError:\n    DEPENDENCY = None\n',
    )
    .replace('"release": RELEASE_ID,\n', '"release": RELEASE_ID,\n                    "dependency": DEPENDENCY,\n');
}

describe.skipIf(skip !== undefined)(`the python runtime from pyproject.toml over SSH${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let wheelhouse: string;
  const releases: string[] = [];

  const health = async () => (await freshJson(`${world.publicUrl}/health`)).body;
  const venvs = () => namesIn(join(world.hostRoot, 'shared', 'venvs')).filter((name) => !name.startsWith('.'));
  const installOf = (events: readonly EngineEvent[]) => {
    const start = events.findIndex((event) => event.kind === 'step:start' && event.step === 'install');
    const end = events.findIndex((event) => event.kind === 'step:done' && event.step === 'install');
    return { done: events[end], logs: events.slice(start, end).filter((event) => event.kind === 'log') };
  };
  const config = () =>
    world.config({
      runtime: { type: 'python', entry: 'server.py', python: 'python3', pip_args: ['--no-index', '--find-links', wheelhouse] },
    });

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    wheelhouse = join(world.sshd!.workDir, 'wheels');
    mkdirSync(wheelhouse, { mode: 0o755 });
    buildWheel(wheelhouse, 'mcpd_tinydep', '1.0');
    rmSync(join(world.project, 'requirements.txt'));
    writeFileSync(
      join(world.project, 'pyproject.toml'),
      '[project]\nname = "ontology-server"\nversion = "1.0.0"\nrequires-python = ">=3.9"\ndependencies = ["mcpd_tinydep==1.0"]\n',
    );
    world.editServer(reportDependency);
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('the plan says pip installs pyproject.toml’s dependencies, because the host has no uv', async () => {
    const { context } = world.context({ config: config() });
    const transport = await world.connect();
    try {
      const plan = await planDeploy(context, transport);
      expect(plan.requirements).toMatchObject({
        kind: 'venv',
        changed: true,
        why: hasUv() ? expect.stringContaining('uv') : 'pip install: 1 dependency from pyproject.toml',
        problem: null,
      });
    } finally {
      await transport.close();
    }
  }, 60_000);

  it('deploys with the dependency installed from the local wheelhouse into a shared venv', async () => {
    const { context, events } = world.context({ config: config() });
    const summary = await deploy(context);
    expect(summary.error).toBeUndefined();
    releases.push(summary.release!);
    expect(installOf(events).done).toMatchObject({ detail: expect.stringMatching(/^venv [0-9a-f]{12} built: (pip|uv pip) install$/) });
    expect(await health()).toMatchObject({ release: summary.release, dependency: '1.0' });
    expect(venvs()).toHaveLength(1);
    const release = JSON.parse(readFileSync(join(world.hostRoot, 'releases', summary.release!, '.mcp-deploy/release.json'), 'utf8'));
    expect(release.install).toMatchObject({ kind: 'venv', hash: venvs()[0], requirementsText: 'mcpd_tinydep==1.0\n' });
    expect(release.requirementsHash).toBe(venvs()[0]);
  }, 120_000);

  it('redeploys without installing, then rolls back onto the same venv', async () => {
    world.editServer((text) => `${text}\n# v2\n`);
    const { context, events } = world.context({ config: config() });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.error).toBeUndefined();
    releases.push(summary.release!);
    const install = installOf(events);
    expect(install.done).toMatchObject({ detail: `venv ${venvs()[0]!.slice(0, 12)} reused` });
    expect(install.logs).toEqual([]);
    expect(await health()).toMatchObject({ release: summary.release, dependency: '1.0' });

    const back = world.context({ config: config() });
    const rolled = await rollback(back.context);
    expect(rolled.error).toBeUndefined();
    expect(rolled.release).toBe(releases[0]);
    expect(installOf(back.events).done).toMatchObject({ detail: 'venv still there: nothing installed' });
    expect(await health()).toMatchObject({ release: releases[0], dependency: '1.0' });
    expect(venvs()).toHaveLength(1);
  }, 180_000);

  it.skipIf(!hasUv())(
    `with uv on the host, uv sync --frozen installs from uv.lock${hasUv() ? '' : ' (skipped: uv is not installed on this host)'}`,
    async () => {
      writeFileSync(
        join(world.project, 'pyproject.toml'),
        '[project]\nname = "ontology-server"\nversion = "1.0.0"\nrequires-python = ">=3.9"\ndependencies = []\n',
      );
      writeFileSync(
        join(world.project, 'uv.lock'),
        'version = 1\nrequires-python = ">=3.9"\n\n[[package]]\nname = "ontology-server"\nversion = "1.0.0"\nsource = { virtual = "." }\n',
      );
      const { context, events } = world.context({ config: config() });
      const summary = await deploy(context, { skipValidate: true });
      expect(summary.error).toBeUndefined();
      expect(installOf(events).done).toMatchObject({ detail: expect.stringContaining('built: uv sync') });
      expect(await health()).toMatchObject({ release: summary.release });
    },
    180_000,
  );
});

/** uv as the SSH user would find it (the host is this machine): on the PATH a non-login shell gets. */
function hasUv(): boolean {
  return ['/usr/local/bin/uv', '/usr/bin/uv', '/bin/uv'].some((path) => existsSync(path));
}
