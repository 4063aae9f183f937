import { lstat, readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import ignore, { type Ignore } from 'ignore';
import { DeployError } from '../errors.js';
import type { Config } from '../config/load.js';
import { keepBuildOutput } from './build-output.js';
import { decodeFileName, fsPath, printableName } from './file-names.js';

/**
 * One thing to ship. Paths are relative to `config.source` and '/'-separated. Names that are not
 * UTF-8 keep their bytes as surrogate escapes (see file-names.ts); `fsPath` turns any of these
 * paths back into what node:fs needs.
 */
export type SourceEntry =
  | { readonly kind: 'file'; readonly path: string; readonly absolutePath: string; readonly size: number; readonly mode: number }
  | { readonly kind: 'dir'; readonly path: string; readonly mode: number }
  | { readonly kind: 'symlink'; readonly path: string; readonly target: string };

/** Something in the tree that cannot be shipped and is left out (sockets, fifos, devices). */
export type SkippedEntry = { readonly path: string; readonly reason: string };

/**
 * Never shipped, whatever `exclude` says: version-control data, interpreter caches and local
 * environments are machine-specific, large, and rebuilt on the host. A separate matcher so a
 * user's `!pattern` cannot re-include them. `.env` files and `.mcpdeployrc*` are deliberately NOT
 * in this list: only `exclude` decides about them.
 */
export const alwaysExcluded = ['.git/', '__pycache__/', '*.pyc', '.venv/', 'node_modules/'] as const;

/**
 * Walks `config.source` without following symlinks (so a link loop cannot hang the walk) and
 * returns every directory, regular file and symlink that is not excluded, sorted by path.
 * A symlink is kept only when it stays inside the tree; anything else would ship a dangling link
 * or, worse, a pointer to host files, so it is refused with a DeployError. With `build.output`,
 * only the build's output and the runtime's install files are listed (build-output.ts).
 */
export async function listSourceFiles(
  config: Pick<Config, 'source' | 'exclude'> & { readonly shared?: Config['shared'] } & Partial<Pick<Config, 'build' | 'runtime'>>,
  options: { readonly onSkipped?: (entry: SkippedEntry) => void } = {},
): Promise<SourceEntry[]> {
  const root = resolve(config.source);
  // The root itself may be a symlink (a checkout linked elsewhere): that is the operator's choice.
  const realRoot = await realpath(root).catch((error: NodeJS.ErrnoException) => {
    throw new DeployError('validate', `Source folder ${root} cannot be read: ${error.code ?? error.message}`, {
      hint: 'Check "source" in the config file.',
    });
  });
  if (!(await stat(realRoot)).isDirectory()) {
    throw new DeployError('validate', `Source ${root} is not a folder.`, { hint: 'Check "source" in the config file.' });
  }
  const fixed = ignore().add([...alwaysExcluded]);
  const configured = ignore().add([...config.exclude]);
  // shared.dirs and shared.files live on the host, in shared/: never shipped (matched by exact path, not as patterns).
  const shared = new Set([...(config.shared?.dirs ?? []), ...(config.shared?.files ?? [])]);
  const entries: SourceEntry[] = [];
  await walk(realRoot, '', { fixed, configured, shared, realRoot, entries, onSkipped: options.onSkipped });
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return config.build?.output !== undefined && config.runtime !== undefined
    ? keepBuildOutput(entries, { build: config.build, runtime: config.runtime })
    : entries;
}

type WalkState = {
  readonly fixed: Ignore;
  readonly configured: Ignore;
  readonly shared: ReadonlySet<string>;
  readonly realRoot: string;
  readonly entries: SourceEntry[];
  readonly onSkipped: ((entry: SkippedEntry) => void) | undefined;
};

async function walk(directory: string, prefix: string, state: WalkState): Promise<void> {
  // Buffer names: a name that is not UTF-8 would otherwise be mangled into one that does not exist.
  const names = await readdir(fsPath(directory), { encoding: 'buffer' });
  for (const raw of names) {
    const name = decodeFileName(raw);
    const relativePath = prefix === '' ? name : `${prefix}/${name}`;
    const absolutePath = join(directory, name);
    const info = await lstat(fsPath(absolutePath)).catch((error: unknown) => {
      throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? vanished(relativePath) : error;
    });
    const isDirectory = info.isDirectory();
    if (isExcluded(state, relativePath, isDirectory)) continue;
    if (isDirectory) {
      state.entries.push({ kind: 'dir', path: relativePath, mode: info.mode & 0o7777 });
      await walk(absolutePath, relativePath, state);
    } else if (info.isFile()) {
      state.entries.push({ kind: 'file', path: relativePath, absolutePath, size: info.size, mode: info.mode & 0o7777 });
    } else if (info.isSymbolicLink()) {
      const target = decodeFileName(await readlink(fsPath(absolutePath), { encoding: 'buffer' }));
      await assertInside(state.realRoot, absolutePath, relativePath, target);
      state.entries.push({ kind: 'symlink', path: relativePath, target });
    } else {
      state.onSkipped?.({ path: printableName(relativePath), reason: `${describeSpecial(info)} cannot be shipped` });
    }
  }
}

/**
 * Whether a file at this path (relative to `source`, '/'-separated) would ship, by the same rules
 * as the walk: none of its folders and not the file itself excluded or shared. For a path that need
 * not exist (a file deleted in a git checkout: would the commit's copy have shipped?).
 */
export function shipsFile(config: Pick<Config, 'exclude'> & { readonly shared?: Config['shared'] }): (path: string) => boolean {
  const state = {
    fixed: ignore().add([...alwaysExcluded]),
    configured: ignore().add([...config.exclude]),
    shared: new Set([...(config.shared?.dirs ?? []), ...(config.shared?.files ?? [])]),
  };
  return (path) => {
    const segments = path.split('/');
    for (let depth = 1; depth < segments.length; depth += 1) {
      if (isExcluded(state, segments.slice(0, depth).join('/'), true)) return false;
    }
    return !isExcluded(state, path, false);
  };
}

function isExcluded(state: Pick<WalkState, 'fixed' | 'configured' | 'shared'>, relativePath: string, isDirectory: boolean): boolean {
  // gitignore matches a directory pattern ("build/") only against paths that end in "/".
  const candidate = isDirectory ? `${relativePath}/` : relativePath;
  return state.shared.has(relativePath) || state.fixed.ignores(candidate) || state.configured.ignores(candidate);
}

/**
 * Checked twice: lexically (catches "../x" and absolute targets even when they dangle) and, when
 * the link resolves, by its real path (catches escapes through other links, like "d/.." where
 * "d -> .").
 */
async function assertInside(realRoot: string, linkPath: string, relativePath: string, target: string): Promise<void> {
  const refuse = () =>
    new DeployError(
      'validate',
      `${printableName(relativePath)} -> ${printableName(target)} points outside the source folder; ship the file itself or exclude the link`,
      {
        hint: 'Add the link to "exclude", or replace it with a copy of its target.',
      },
    );
  if (isAbsolute(target) || !within(realRoot, resolve(dirname(linkPath), target))) throw refuse();
  let resolved: string;
  try {
    resolved = decodeFileName(await realpath(fsPath(linkPath), { encoding: 'buffer' }));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A dangling link or a loop ships as the link it is; the lexical check already passed.
    if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return;
    throw error;
  }
  if (!within(realRoot, resolved)) throw refuse();
}

/** A name the folder listed that was gone a moment later: something is rewriting the tree. */
function vanished(relativePath: string): DeployError {
  return new DeployError(
    'validate',
    `${printableName(relativePath)} disappeared while the release's files were being listed: something is replacing it (a build, an editor, a sync?).`,
    { hint: 'Deploy again once whatever writes it has finished.' },
  );
}

function within(root: string, path: string): boolean {
  const rest = relative(root, path);
  return rest === '' || (!rest.startsWith(`..${sep}`) && rest !== '..' && !isAbsolute(rest));
}

function describeSpecial(stat: Awaited<ReturnType<typeof lstat>>): string {
  if (stat.isSocket()) return 'a socket';
  if (stat.isFIFO()) return 'a named pipe (fifo)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return 'a special file';
}
