import { posix } from 'node:path';
import type { Config } from '../config/load.js';

/**
 * The files a runtime's install reads on the host, by name: a build's `output` always ships them
 * (a compiled server still needs its package.json and lockfile there), and the install keys its
 * shared folder by their bytes (runtime/install-inputs.ts).
 */

export type PackageManager = 'npm' | 'pnpm' | 'yarn';

/** Each lockfile name and the manager it belongs to, in the order they are preferred. */
export const nodeLockfiles = [
  { name: 'package-lock.json', manager: 'npm' },
  { name: 'npm-shrinkwrap.json', manager: 'npm' },
  { name: 'pnpm-lock.yaml', manager: 'pnpm' },
  { name: 'yarn.lock', manager: 'yarn' },
] as const satisfies readonly { name: string; manager: PackageManager }[];

/** Lockfiles of managers the node runtime does not drive; their projects use a cached install. */
export const foreignLockfiles = ['bun.lock', 'bun.lockb', 'deno.lock'] as const;

/**
 * Files besides package.json and the lockfile that change what the manager installs (registry
 * and auth settings, pnpm hooks, a pinned yarn release). Paths ending in "/" stand for every
 * file under that folder.
 */
export const nodeManagerFiles = [
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  'pnpm-workspace.yaml',
  '.pnpmfile.cjs',
  '.yarn/releases/',
  '.yarn/plugins/',
] as const;

/** Paths (relative to `source`) the runtime's install may read; folders end in "/". Those that exist ship with a build's output. */
export function installFileCandidates(config: Pick<Config, 'runtime'>): string[] {
  const { runtime } = config;
  if (typeof runtime.install === 'object' && runtime.type !== 'python') {
    return [...runtime.install.cacheKey, ...(runtime.type === 'node' ? ['package.json'] : [])];
  }
  if (runtime.type === 'node') return ['package.json', ...nodeLockfiles.map((lock) => lock.name), ...nodeManagerFiles];
  if (runtime.type === 'python') {
    const named = runtime.requirements ?? 'pyproject.toml';
    return posix.basename(named) === 'pyproject.toml' ? [named, posix.join(posix.dirname(named), 'uv.lock')] : [named];
  }
  return [];
}
