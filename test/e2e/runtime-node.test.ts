import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, type RunSummary } from '../../source/engine/deploy.js';
import { rollback } from '../../source/engine/rollback.js';
import type { EngineEvent } from '../../source/run/events.js';
import { sshdSkipReason } from '../harness/index.js';
import { createNodeProject, namesIn, nodeConfig, type NodeProject } from './node-project.js';
import { freshJson } from './fresh-get.js';
import { createWorld, type World } from './world.js';

/**
 * A TypeScript MCP server on the official SDK, over a real sshd to an unprivileged user, with a
 * real `npm ci` on the host: it is built locally and ships compiled, its dependencies are
 * installed once per lockfile into shared/deps and linked into each release, a redeploy with the
 * same lockfile installs nothing, and a changed one installs again.
 */
const skip = await sshdSkipReason();

describe.skipIf(skip !== undefined)(`the node runtime over SSH${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let project: NodeProject;
  const releases: string[] = [];

  const depsRoot = () => join(world.hostRoot, 'shared', 'deps');
  const depsFolders = () => namesIn(depsRoot()).filter((name) => !name.startsWith('.'));
  const releaseDir = (id: string) => join(world.hostRoot, 'releases', id);
  const servedRelease = async () => (await freshJson(`${world.publicUrl}/health`)).body['release'];
  const installEvents = (events: readonly EngineEvent[]) => {
    const start = events.findIndex((event) => event.kind === 'step:start' && event.step === 'install');
    const end = events.findIndex((event) => (event.kind === 'step:done' || event.kind === 'step:failed') && event.step === 'install');
    return { end: events[end], logs: events.slice(start, end).filter((event) => event.kind === 'log') };
  };
  const run = async (overrides: Record<string, unknown> = {}, options: { skipValidate?: boolean } = {}) => {
    const { context, events } = world.context({ config: world.config(nodeConfig(project, overrides)) });
    const summary = await deploy(context, options);
    return { summary, events };
  };
  const expectOk = (summary: RunSummary) => {
    expect(summary.error).toBeUndefined();
    expect(summary.ok).toBe(true);
    releases.push(summary.release!);
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    project = createNodeProject(join(world.project, '..'));
  }, 240_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('a first deploy builds locally, ships the compiled server without its sources, and installs its lockfile into shared/deps', async () => {
    const { summary, events } = await run();
    expectOk(summary);
    const v1 = releases[0]!;
    expect(events.find((event) => event.kind === 'step:done' && event.step === 'build')).toMatchObject({ detail: 'ships dist' });
    const dir = releaseDir(v1);
    expect(existsSync(join(dir, 'dist/server.js'))).toBe(true);
    expect(existsSync(join(dir, 'package.json'))).toBe(true);
    expect(existsSync(join(dir, 'package-lock.json'))).toBe(true);
    expect(existsSync(join(dir, 'src'))).toBe(false);
    expect(existsSync(join(dir, 'tsconfig.json'))).toBe(false);

    const [hash, ...others] = depsFolders();
    expect(others).toEqual([]);
    expect(readlinkSync(join(dir, 'node_modules'))).toBe(`../../shared/deps/${hash}/node_modules`);
    expect(existsSync(join(dir, 'node_modules/@modelcontextprotocol/server/package.json'))).toBe(true);
    // The install folder got package.json's install fields only: the fixture's own "prepare: npm run build"
    // would have run there (without tsc) had its scripts been copied.
    const installed = JSON.parse(readFileSync(join(depsRoot(), hash!, 'package.json'), 'utf8'));
    expect(installed.scripts).toBeUndefined();
    expect(installed.dependencies).toEqual({ '@modelcontextprotocol/server': '2.4.0' });
    const install = installEvents(events);
    expect(install.end).toMatchObject({ kind: 'step:done', detail: expect.stringMatching(/^node_modules [0-9a-f]{12} built: npm ci$/) });
    expect(install.logs.length).toBeGreaterThan(0);
    const release = JSON.parse(readFileSync(join(dir, '.mcp-deploy/release.json'), 'utf8'));
    expect(release.install).toMatchObject({ kind: 'deps', hash, tool: 'npm', paths: ['node_modules'] });
    expect(await servedRelease()).toBe(v1);
  }, 240_000);

  it('a redeploy with an unchanged lockfile runs no install at all and links the same folder', async () => {
    const [hash] = depsFolders();
    const marker = join(depsRoot(), hash!, '.mcp-deploy-complete');
    const before = readFileSync(marker, 'utf8');
    project.editSource((text) => text.replace("'The release that answers.'", "'The release that answers (v2).'"));
    const { summary, events } = await run();
    expectOk(summary);
    const install = installEvents(events);
    expect(install.end).toMatchObject({ kind: 'step:done', detail: `node_modules ${hash!.slice(0, 12)} reused` });
    // Nothing ran: no npm output, the folder untouched, no second folder.
    expect(install.logs).toEqual([]);
    expect(readFileSync(marker, 'utf8')).toBe(before);
    expect(depsFolders()).toEqual([hash]);
    expect(readlinkSync(join(releaseDir(releases[1]!), 'node_modules'))).toBe(`../../shared/deps/${hash}/node_modules`);
    expect(await servedRelease()).toBe(releases[1]);
  }, 240_000);

  it('a changed lockfile installs again, into a folder of its own', async () => {
    const [first] = depsFolders();
    project.useMoreDependencies();
    const { summary, events } = await run();
    expectOk(summary);
    expect(installEvents(events).end).toMatchObject({ detail: expect.stringContaining('built: npm ci') });
    const folders = depsFolders();
    expect(folders).toHaveLength(2);
    expect(folders).toContain(first);
    expect(existsSync(join(releaseDir(releases[2]!), 'node_modules/ms/package.json'))).toBe(true);
    expect(existsSync(join(releaseDir(releases[1]!), 'node_modules/ms'))).toBe(false);
    expect(await servedRelease()).toBe(releases[2]);
  }, 240_000);

  it('a rollback serves the previous release on its own install folder, installing nothing', async () => {
    const { context, events } = world.context({ config: world.config(nodeConfig(project)) });
    const summary = await rollback(context);
    expect(summary.error).toBeUndefined();
    expect(summary.release).toBe(releases[1]);
    expect(installEvents(events).end).toMatchObject({ detail: 'dependencies still there: nothing installed' });
    expect(installEvents(events).logs).toEqual([]);
    expect(await servedRelease()).toBe(releases[1]);
  }, 120_000);

  it("without an entry, package.json's start script runs the server", async () => {
    const { summary } = await run({ runtime: { type: 'node', env: { GREETING: 'hi from {release}' } } });
    expectOk(summary);
    expect(await servedRelease()).toBe(releases[3]);
  }, 240_000);

  it('prune removes an install folder once no kept release uses it', async () => {
    // releases[1] (on the first folder; releases[0] is pruned by now) is still the previous release:
    // one more deploy lets it go.
    const [first, second] = [
      JSON.parse(readFileSync(join(releaseDir(releases[1]!), '.mcp-deploy/release.json'), 'utf8')).install.hash as string,
      JSON.parse(readFileSync(join(releaseDir(releases[2]!), '.mcp-deploy/release.json'), 'utf8')).install.hash as string,
    ];
    // Prune leaves a folder built less than an hour ago (an upload may be about to use it): age it.
    const hourAndMore = new Date(Date.now() - 2 * 3600_000);
    utimesSync(join(depsRoot(), first), hourAndMore, hourAndMore);
    const { summary, events } = await run({ keepReleases: 1 }, { skipValidate: true });
    expectOk(summary);
    expect(depsFolders()).toEqual([second]);
    expect(events.find((event) => event.kind === 'step:done' && event.step === 'prune')).toMatchObject({
      detail: expect.stringContaining('1 install folder(s)'),
    });
    const kept = readdirSync(join(world.hostRoot, 'releases')).filter((name) => !name.startsWith('.'));
    expect(kept.sort()).toEqual([releases[3], releases[4]].sort());
    expect(await servedRelease()).toBe(releases[4]);
  }, 240_000);

  it('a build that fails stops the deploy before the host is touched, with the build’s own output', async () => {
    const auditBefore = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8');
    const releasesBefore = namesIn(join(world.hostRoot, 'releases'));
    const { summary, events } = await run({
      build: { command: "echo compiling; echo 'src/server.ts(3,1): error TS1005: expected' >&2; exit 2", output: 'dist' },
    });
    expect(summary.ok).toBe(false);
    expect(summary.error?.step).toBe('build');
    expect(summary.error?.message).toContain('exited 2');
    expect(summary.release).toBeNull();
    const failed = events.find((event) => event.kind === 'step:failed' && event.step === 'build');
    expect(JSON.stringify(failed)).toContain('error TS1005: expected');
    expect(events.some((event) => event.kind === 'step:start' && event.step === 'connect')).toBe(false);
    expect(readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')).toBe(auditBefore);
    expect(namesIn(join(world.hostRoot, 'releases'))).toEqual(releasesBefore);
    expect(await servedRelease()).toBe(releases[4]);
  }, 60_000);

  afterAll(() => {
    if (project) rmSync(project.dir, { recursive: true, force: true });
  });
});
