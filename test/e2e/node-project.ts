import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A working copy of the TypeScript MCP server fixture (official SDK v2, with a lockfile), with
 * its dependencies installed locally as a developer's checkout has them: the local checks start
 * the built server. The repository's own TypeScript compiles it (the fixture carries no dev
 * dependencies, so `npm ci` on the host stays small).
 */

const repository = new URL('../../', import.meta.url).pathname;
export const nodeFixture = join(repository, 'test/fixtures/node-mcp-server');
/** The same package.json with one more dependency, and its lockfile: a "changed lockfile". */
export const nodeFixtureMoreDeps = join(repository, 'test/fixtures/node-mcp-server-more-deps');

export type NodeProject = {
  readonly dir: string;
  /** `build.command` for a config: the repository's tsc, with the repository's @types for node. */
  readonly buildCommand: string;
  /** Replaces package.json and package-lock.json with the fixture's variant that adds a dependency (and installs it locally). */
  useMoreDependencies(): void;
  /** Changes the server's source (a release's change that leaves the lockfile alone). */
  editSource(change: (text: string) => string): void;
};

export function createNodeProject(parent = mkdtempSync(join(tmpdir(), 'mcpd-node-'))): NodeProject {
  const dir = join(parent, 'node-server');
  cpSync(nodeFixture, dir, { recursive: true });
  // --ignore-scripts: the fixture's "prepare" builds, which the tests do through build.command.
  const install = () =>
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir, stdio: 'pipe', timeout: 180_000 });
  install();
  const tsc = join(repository, 'node_modules/.bin/tsc');
  return {
    dir,
    buildCommand: `${tsc} -p . --typeRoots ${join(repository, 'node_modules/@types')}`,
    useMoreDependencies: () => {
      for (const name of ['package.json', 'package-lock.json'])
        writeFileSync(join(dir, name), readFileSync(join(nodeFixtureMoreDeps, name)));
      install();
    },
    editSource: (change) => {
      const file = join(dir, 'src/server.ts');
      writeFileSync(file, change(readFileSync(file, 'utf8')));
    },
  };
}

/** The node runtime's part of a test config for a NodeProject. */
export function nodeConfig(project: NodeProject, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    source: project.dir,
    runtime: { type: 'node', entry: 'dist/server.js', env: { GREETING: 'hi from {release}' } },
    build: { command: project.buildCommand, output: 'dist' },
    ontologies: [],
    health: {
      http: [{ path: '/health', status: 200, json: { status: 'ok' } }],
      mcp: { path: '/mcp', expectTools: ['whoami', 'greet'], calls: [{ tool: 'greet', arguments: {}, expectText: 'hi from' }] },
      timeoutSeconds: 20,
    },
    ...overrides,
  };
}

export function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
