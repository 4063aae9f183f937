import { DeployError } from '../errors.js';
import { foreignLockfiles, nodeLockfiles, type PackageManager } from '../project/install-files.js';

export type { PackageManager };

/**
 * What a Node project's package.json and lockfile say about installing it: which package manager
 * owns the lockfile, the package.json the shared install folder gets, and the server's start
 * script. Pure: callers read the files (locally, or from a release on the host).
 */

export const packageManagers = ['npm', 'pnpm', 'yarn'] as const satisfies readonly PackageManager[];

/**
 * package.json fields kept in the install folder's copy: what the manager reads to install the
 * dependencies and to check them against the lockfile. Everything else, `scripts` above all, is
 * left out: the root package's own lifecycle scripts (`prepare: npm run build`) would run there,
 * without the sources and without the dev tools they need.
 */
const installFields = [
  'name',
  'version',
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'bundledDependencies',
  'overrides',
  'resolutions',
  'pnpm',
  'packageManager',
  'engines',
] as const;

export type PackageJson = Record<string, unknown>;

export function parsePackageJson(text: string, where: string): PackageJson {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DeployError('config', `${where} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DeployError('config', `${where} is not a JSON object.`);
  }
  return parsed as PackageJson;
}

/** The package.json the install folder gets: only what installing reads, in a stable order. */
export function installPackageJson(pkg: PackageJson): string {
  const kept: Record<string, unknown> = {};
  for (const field of installFields) if (pkg[field] !== undefined) kept[field] = pkg[field];
  return `${JSON.stringify(kept, null, 2)}\n`;
}

/**
 * What keys the install, from package.json: the same fields without `version`, so bumping the
 * app's own version (every release, with some release tools) does not reinstall.
 */
export function packageJsonKey(pkg: PackageJson): string {
  const { version: _version, ...rest } = JSON.parse(installPackageJson(pkg)) as Record<string, unknown>;
  return JSON.stringify(rest);
}

/** The lockfile's bytes as they key the install: npm's records the app's own version twice, which is left out. */
export function lockfileKey(name: string, bytes: Buffer): Buffer | string {
  if (name !== 'package-lock.json' && name !== 'npm-shrinkwrap.json') return bytes;
  try {
    const lock = JSON.parse(bytes.toString('utf8')) as { version?: unknown; packages?: Record<string, { version?: unknown }> };
    delete lock.version;
    if (lock.packages?.['']) delete lock.packages[''].version;
    return JSON.stringify(lock);
  } catch {
    return bytes;
  }
}

export function hasDependencies(pkg: PackageJson): boolean {
  return ['dependencies', 'optionalDependencies'].some((field) => {
    const value = pkg[field];
    return typeof value === 'object' && value !== null && Object.keys(value).length > 0;
  });
}

/**
 * The lockfile that decides the manager. When several are present, the one of package.json's
 * `packageManager` wins (that is what corepack and the team use), else npm's, pnpm's, yarn's.
 */
export function chooseLockfile(
  pkg: PackageJson,
  present: readonly string[],
): { readonly name: string; readonly manager: PackageManager; readonly why: string } | null {
  const found = nodeLockfiles.filter((lock) => present.includes(lock.name));
  if (found.length === 0) {
    const foreign = foreignLockfiles.find((name) => present.includes(name));
    if (foreign !== undefined) {
      throw new DeployError(
        'config',
        `${foreign} is a lockfile runtime.type "node" does not install from (it drives npm, pnpm and yarn).`,
        {
          hint: `Use runtime.type "command" with a cached install, e.g. "install": { "command": "bun install --production --frozen-lockfile", "cacheKey": ["package.json", "${foreign}"], "cachePaths": ["node_modules"] } (docs/config.md).`,
        },
      );
    }
    return null;
  }
  const declared = typeof pkg['packageManager'] === 'string' ? pkg['packageManager'].split('@')[0] : undefined;
  const preferred = found.find((lock) => lock.manager === declared);
  const chosen = preferred ?? found[0]!;
  const others = found.filter((lock) => lock !== chosen).map((lock) => lock.name);
  const why =
    others.length === 0
      ? `${chosen.name} is the lockfile`
      : preferred
        ? `${chosen.name} matches packageManager "${String(pkg['packageManager'])}" (also present: ${others.join(', ')})`
        : `${chosen.name} is preferred (also present: ${others.join(', ')})`;
  return { name: chosen.name, manager: chosen.manager, why };
}

/** The command that installs production dependencies from the lockfile, for the manager's major version on the host. */
export function installCommand(manager: PackageManager, managerVersion: string | null): string {
  if (manager === 'npm') return 'npm ci --omit=dev --no-audit --no-fund';
  if (manager === 'pnpm') return 'pnpm install --frozen-lockfile --prod';
  const major = Number.parseInt(managerVersion ?? '1', 10);
  // Yarn 2+ installs Plug'n'Play by default, which leaves no node_modules to share: ask for one.
  return major >= 2
    ? 'YARN_NODE_LINKER=node-modules yarn workspaces focus --all --production'
    : 'yarn install --frozen-lockfile --production --non-interactive';
}

export function enginesNode(pkg: PackageJson): string | null {
  const engines = pkg['engines'];
  if (typeof engines !== 'object' || engines === null) return null;
  const range = (engines as Record<string, unknown>)['node'];
  return typeof range === 'string' && range.trim() !== '' ? range.trim() : null;
}

export function startScript(pkg: PackageJson): string | null {
  const scripts = pkg['scripts'];
  if (typeof scripts !== 'object' || scripts === null) return null;
  const start = (scripts as Record<string, unknown>)['start'];
  return typeof start === 'string' && start.trim() !== '' ? start.trim() : null;
}

/** When package.json names workspaces, its dependencies live in other folders the install folder does not have. */
export function workspaces(pkg: PackageJson): boolean {
  const value = pkg['workspaces'];
  return Array.isArray(value) ? value.length > 0 : typeof value === 'object' && value !== null;
}
