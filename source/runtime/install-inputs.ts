import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import {
  chooseLockfile,
  enginesNode,
  hasDependencies,
  installPackageJson,
  lockfileKey,
  packageJsonKey,
  parsePackageJson,
  type PackageManager,
  workspaces,
} from './node-project.js';
import { foreignLockfiles, nodeLockfiles, nodeManagerFiles } from '../project/install-files.js';
import { parsePyProject, requirementsNeedInstall, type PyProject } from './python-project.js';

/**
 * What the local source says the host must install, read before anything touches the host, so
 * a missing or broken file is a config error at once. The host's side (which tools it has)
 * comes later (host-runtime.ts); install-plan.ts puts the two together.
 */

type LocalFile = { readonly path: string; readonly bytes: Buffer };

export type InstallInputs =
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'command'; readonly command: string }
  | { readonly kind: 'requirements'; readonly path: string; readonly bytes: Buffer; readonly needsInstall: boolean }
  | { readonly kind: 'pyproject'; readonly path: string; readonly project: PyProject; readonly uvLock: Buffer | null }
  | {
      readonly kind: 'node';
      readonly lock: { readonly name: string; readonly manager: PackageManager; readonly why: string; readonly key: Buffer | string };
      /** The install folder's package.json, and what of it keys the install. */
      readonly packageJson: string;
      readonly packageJsonKey: string;
      readonly managerFiles: readonly LocalFile[];
      /** runtime.install given as a string: it replaces the manager's own command. */
      readonly command: string | null;
      readonly engines: string | null;
    }
  | {
      readonly kind: 'cached';
      readonly command: string;
      readonly files: readonly LocalFile[];
      readonly paths: readonly string[];
      /** runtime.type "node": the host's node major keys it too (native modules are built for it). */
      readonly nodeRuntime: boolean;
    };

export function readInstallInputs(config: Pick<Config, 'runtime' | 'source'>): InstallInputs {
  const { runtime, source } = config;
  if (typeof runtime.install === 'object' && runtime.type !== 'python') {
    const files = runtime.install.cacheKey.map((path) => readLocal(source, path, 'runtime.install.cacheKey'));
    return {
      kind: 'cached',
      command: runtime.install.command,
      files,
      paths: runtime.install.cachePaths,
      nodeRuntime: runtime.type === 'node',
    };
  }
  if (runtime.type === 'command') {
    return runtime.install === undefined
      ? { kind: 'none', reason: 'runtime.type is "command" and no runtime.install is set' }
      : { kind: 'command', command: runtime.install as string };
  }
  if (runtime.type === 'node') return nodeInputs(config);
  return pythonInputs(config);
}

function pythonInputs(config: Pick<Config, 'runtime' | 'source'>): InstallInputs {
  const { runtime, source } = config;
  const named = runtime.requirements;
  const pyproject = named === undefined ? (existsSync(join(source, 'pyproject.toml')) ? 'pyproject.toml' : undefined) : named;
  if (pyproject === undefined)
    return { kind: 'none', reason: `no runtime.requirements and no pyproject.toml; the server runs on ${runtime.python}` };
  if (posix.basename(pyproject) === 'pyproject.toml') {
    const file = readLocal(source, pyproject, named === undefined ? 'pyproject.toml' : 'runtime.requirements');
    const lockPath = posix.join(posix.dirname(pyproject), 'uv.lock');
    const uvLock = existsSync(join(source, lockPath)) ? readFileSync(join(source, lockPath)) : null;
    return { kind: 'pyproject', path: pyproject, project: parsePyProject(file.bytes.toString('utf8'), pyproject), uvLock };
  }
  const file = readLocal(source, pyproject, 'runtime.requirements');
  return { kind: 'requirements', path: pyproject, bytes: file.bytes, needsInstall: requirementsNeedInstall(file.bytes.toString('utf8')) };
}

function nodeInputs(config: Pick<Config, 'runtime' | 'source'>): InstallInputs {
  const { runtime, source } = config;
  const manifest = readLocal(source, 'package.json', 'runtime.type "node"');
  const pkg = parsePackageJson(manifest.bytes.toString('utf8'), 'package.json');
  if (workspaces(pkg)) {
    throw new DeployError('config', 'package.json declares workspaces: runtime.type "node" installs one package, not a workspace.', {
      hint: 'Point "source" at the server package itself, or give runtime.install as a cached install listing the files it needs (docs/config.md).',
    });
  }
  const present = [...nodeLockfiles.map((lock) => lock.name), ...foreignLockfiles].filter((name) => existsSync(join(source, name)));
  const lock = chooseLockfile(pkg, present);
  if (lock === null) {
    if (!hasDependencies(pkg)) return { kind: 'none', reason: 'package.json has no dependencies' };
    throw new DeployError('config', 'package.json has dependencies but there is no lockfile next to it.', {
      hint: 'Run npm install (or pnpm install, yarn) in the source folder and commit the lockfile: the host installs exactly what it pins.',
    });
  }
  const lockBytes = readFileSync(join(source, lock.name));
  return {
    kind: 'node',
    lock: { ...lock, key: lockfileKey(lock.name, lockBytes) },
    packageJson: installPackageJson(pkg),
    packageJsonKey: packageJsonKey(pkg),
    managerFiles: presentManagerFiles(source),
    command: typeof runtime.install === 'string' ? runtime.install : null,
    engines: enginesNode(pkg),
  };
}

/** managerFiles that exist in the source, folders expanded to the files under them, sorted. */
function presentManagerFiles(source: string): LocalFile[] {
  const found: string[] = [];
  for (const name of nodeManagerFiles) {
    if (name.endsWith('/')) found.push(...filesUnder(source, name.slice(0, -1)));
    else if (isFile(join(source, name))) found.push(name);
  }
  return found.sort().map((path) => ({ path, bytes: readFileSync(join(source, path)) }));
}

function filesUnder(source: string, folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(source, folder));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = `${folder}/${name}`;
    const full = join(source, path);
    return isFile(full) ? [path] : statSync(full, { throwIfNoEntry: false })?.isDirectory() ? filesUnder(source, path) : [];
  });
}

/** Paths, relative to `source`, of the files an install reads: what a build's `output` always ships with. */
export function installInputPaths(inputs: InstallInputs): string[] {
  switch (inputs.kind) {
    case 'none':
    case 'command':
      return [];
    case 'requirements':
      return [inputs.path];
    case 'pyproject':
      return [inputs.path, ...(inputs.uvLock === null ? [] : [posix.join(posix.dirname(inputs.path), 'uv.lock')])];
    case 'node':
      return ['package.json', inputs.lock.name, ...inputs.managerFiles.map((file) => file.path)];
    case 'cached':
      return inputs.files.map((file) => file.path);
  }
}

function readLocal(source: string, path: string, key: string): LocalFile {
  try {
    return { path, bytes: readFileSync(join(source, path)) };
  } catch {
    throw new DeployError('config', `${key}: ${path} was not found in ${source}`, {
      hint: 'Paths in the runtime section are relative to "source".',
    });
  }
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
