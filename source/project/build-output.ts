import { DeployError } from '../errors.js';
import type { Config } from '../config/load.js';
import { installFileCandidates } from './install-files.js';

/**
 * With `build.output`, only what the build made ships, plus the files the runtime installs from
 * (package.json and the lockfile, requirements, a cached install's cacheKey): a compiled server
 * still needs them on the host. Folders are kept when something kept is inside them.
 */
export function keepBuildOutput<T extends { readonly kind: string; readonly path: string }>(
  entries: readonly T[],
  config: Pick<Config, 'build' | 'runtime'>,
): T[] {
  const output = config.build?.output;
  if (output === undefined) return [...entries];
  const outputs = (typeof output === 'string' ? [output] : output).map(normalise);
  if (outputs.includes('.')) return [...entries];
  const candidates = installFileCandidates(config).map((path) => (path.endsWith('/') ? `${normalise(path)}/` : normalise(path)));
  const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);
  const ships = (entry: T) =>
    outputs.some((root) => under(entry.path, root)) ||
    (entry.kind !== 'dir' &&
      candidates.some((candidate) => (candidate.endsWith('/') ? entry.path.startsWith(candidate) : entry.path === candidate)));
  const kept = entries.filter((entry) => entry.kind !== 'dir' && ships(entry));
  for (const root of outputs) {
    if (!entries.some((entry) => under(entry.path, root))) {
      throw new DeployError('validate', `build.output: ${root} is not in the source folder (or "exclude" leaves it out).`, {
        hint: 'Check that the build writes it there, and that build.output names it relative to "source".',
      });
    }
  }
  const folders = new Set<string>();
  for (const entry of kept) {
    const parts = entry.path.split('/');
    for (let depth = 1; depth < parts.length; depth += 1) folders.add(parts.slice(0, depth).join('/'));
  }
  return entries.filter((entry) => (entry.kind === 'dir' ? folders.has(entry.path) || ships(entry) : kept.includes(entry)));
}

function normalise(path: string): string {
  const cleaned = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return cleaned === '' ? '.' : cleaned;
}
