import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { homedir } from 'node:os';
import type { Config, Target } from '../config/load.js';
import { DeployError } from '../errors.js';

/**
 * What `mcp-deploy ci github` writes a workflow from: the config's target and the repository
 * around it (where the server and its config sit, how the runner installs them, whether the
 * repository pins mcp-deploy, whether a hosted runner can reach the host).
 */

export type WorkflowInput = {
  readonly app: string;
  readonly target: string;
  /** Paths relative to the repository root, '/'-separated; `source` is '' for the root itself. */
  readonly configFile: string;
  readonly source: string;
  readonly envFile?: string;
  readonly requirements?: string;
  readonly python: boolean;
  /** A node server: its folder and the command that installs its dependencies (dev ones too: the build and the local checks need them). */
  readonly nodeInstall?: { readonly folder: string; readonly command: string };
  /** Where the target's key and known_hosts live on the runner: `~/…` or absolute. */
  readonly identityFile: string;
  readonly knownHosts: string;
  readonly branch: string;
  /** The mcp-deploy that wrote it, for the header. */
  readonly version: string;
  /** Set when the target's host is one a GitHub-hosted runner cannot reach (loopback, private, link-local). */
  readonly unreachableHost?: string;
  /** A committed contract snapshot (mcp-deploy contract --write): pull requests get a job that fails when it is stale. */
  readonly contractFile?: string;
};

/** What the workflow needs, read from the config and the repository around it. */
export function workflowInputFor(
  config: Config,
  target: Target,
  repoRoot: string,
  options: { version: string; branch?: string; contractFile?: string },
): WorkflowInput {
  const inRepo = (path: string, what: string) => {
    const rel = relative(repoRoot, path);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new DeployError('usage', `${what} ${path} is outside the repository ${repoRoot}.`, {
        hint: 'Run mcp-deploy ci github inside the repository that holds the server and its config.',
      });
    }
    return rel.split(sep).join('/');
  };
  assertPinnedMcpDeploy(repoRoot);
  const source = inRepo(config.source, 'The source folder');
  const named = config.runtime.requirements ?? (existsSync(join(config.source, 'pyproject.toml')) ? 'pyproject.toml' : undefined);
  // pip installs a pyproject.toml's dependencies as a project install of the source folder.
  const requirements = config.runtime.type === 'python' && named !== undefined ? join(config.source, named) : undefined;
  return {
    app: config.app,
    target: target.name,
    configFile: inRepo(config.file, 'The config file'),
    source,
    ...(config.env.file === undefined ? {} : { envFile: inRepo(config.env.file, 'env.file') }),
    ...(requirements === undefined ? {} : { requirements: inRepo(requirements, 'runtime.requirements') }),
    python: config.runtime.type === 'python',
    // A server at the repository's root shares its package.json with mcp-deploy's pin: one npm ci installs both.
    ...(config.runtime.type === 'node' && !(source === '' && nodeInstallCommand(config.source) === 'npm ci')
      ? { nodeInstall: { folder: source === '' ? '.' : source, command: nodeInstallCommand(config.source) } }
      : {}),
    identityFile: runnerPath(target.identityFile ?? '~/.ssh/id_ed25519'),
    knownHosts: runnerPath(target.knownHosts ?? '~/.ssh/known_hosts'),
    branch: options.branch ?? 'main',
    version: options.version,
    ...(target.transport === 'ssh' && target.host !== undefined && !publicHost(target.host) ? { unreachableHost: target.host } : {}),
    ...(options.contractFile === undefined ? {} : { contractFile: inRepo(resolve(options.contractFile), 'The contract file') }),
  };
}

/**
 * The job runs the mcp-deploy the repository pins, installed by `npm ci` from its lockfile,
 * never whatever a name resolves to on the day: a name on the registry can be taken by anyone,
 * and the job holds the SSH key. So the repository must depend on it, and its lockfile must pin
 * the exact package (a registry or tarball version with its integrity, or a git commit).
 */
export function assertPinnedMcpDeploy(repoRoot: string): void {
  const fix =
    'Pin it in the repository: npm install --save-dev <a tarball of mcp-deploy (npm pack), or git+https://…/mcp-deploy.git#<commit>>, ' +
    'and commit package.json and package-lock.json. The job then runs exactly that one, after npm ci.';
  const manifest = readJson(join(repoRoot, 'package.json'));
  const declared = manifest?.['devDependencies']?.['mcp-deploy'] ?? manifest?.['dependencies']?.['mcp-deploy'];
  if (declared === undefined) {
    throw new DeployError(
      'usage',
      `The repository's package.json does not depend on mcp-deploy, so the workflow could not install a pinned one.`,
      {
        hint: fix,
      },
    );
  }
  const lock = readJson(join(repoRoot, 'package-lock.json')) as {
    packages?: Record<string, { resolved?: string; integrity?: string }>;
  } | null;
  const entry = lock?.packages?.['node_modules/mcp-deploy'];
  const pinned = entry?.resolved !== undefined && (entry.integrity !== undefined || /#[0-9a-f]{40}$/.test(entry.resolved));
  if (!pinned) {
    throw new DeployError(
      'usage',
      'package-lock.json does not pin mcp-deploy (no resolved package with an integrity hash or a git commit).',
      {
        hint: `Run npm install in ${repoRoot} and commit package-lock.json. ${fix}`,
      },
    );
  }
}

/**
 * Whether a GitHub-hosted runner could reach this host: not a loopback, private (RFC 1918, ULA)
 * or link-local address, and not a name that only a local network resolves. Names are judged by
 * their shape only: nothing is looked up.
 */
export function publicHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (name === 'localhost' || name.endsWith('.localhost') || name.endsWith('.local') || name.endsWith('.lan') || name.endsWith('.internal'))
    return false;
  if (!name.includes('.') && !name.includes(':')) return false; // a bare name: only a local resolver knows it
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(name);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return !(
      a === 127 ||
      a === 10 ||
      a === 0 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254) ||
      (a === 100 && b >= 64 && b <= 127)
    );
  }
  if (name.includes(':')) return !(name === '::1' || /^f[cd]/.test(name) || /^fe[89ab]/.test(name));
  return true;
}

/** The lockfile's install with dev dependencies, as a CI runner has none of the managers but npm. */
function nodeInstallCommand(source: string): string {
  if (existsSync(join(source, 'pnpm-lock.yaml')) && !existsSync(join(source, 'package-lock.json')))
    return 'corepack enable && pnpm install --frozen-lockfile';
  if (existsSync(join(source, 'yarn.lock')) && !existsSync(join(source, 'package-lock.json'))) return 'corepack enable && yarn install';
  return 'npm ci';
}

/** The repository around `folder`: the nearest parent with a `.git`. */
export function findRepoRoot(folder: string): string | null {
  for (let current = folder; ; current = dirname(current)) {
    if (existsSync(join(current, '.git'))) return current;
    if (dirname(current) === current) return null;
  }
}

function readJson(path: string): Record<string, Record<string, string> | undefined> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, string> | undefined>;
  } catch {
    return null;
  }
}

/** A local path as the runner should use it: this machine's home becomes the runner's `~`. */
function runnerPath(path: string): string {
  const home = homedir();
  if (path === home || path.startsWith(`${home}/`)) return `~${path.slice(home.length)}`;
  return path;
}
