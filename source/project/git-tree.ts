import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import { shipsFile } from './source-files.js';

/**
 * What git says about the folder that ships: which commit it is, and whether what ships differs
 * from that commit (uncommitted changes make a `-dirty` release), and a clean export of another
 * commit for `deploy --ref`. Files git ignores do not count as changes: only what `git status`
 * shows, and of that only what would ship.
 */

export type SourceRevision = {
  /** The full commit id; null outside a git checkout (or without git). */
  readonly sha: string | null;
  /** Paths (relative to `source`) that ship and differ from the commit: modified, added, deleted, untracked. */
  readonly changed: readonly string[];
};

const git = (folder: string, args: readonly string[]) => execa('git', args, { cwd: folder, timeout: 30_000, stripFinalNewline: false });

export async function sourceRevision(config: Pick<Config, 'source' | 'exclude' | 'shared'>): Promise<SourceRevision> {
  let head: string;
  let prefix: string;
  try {
    head = (await git(config.source, ['rev-parse', '--verify', '--quiet', 'HEAD'])).stdout.trim();
    prefix = (await git(config.source, ['rev-parse', '--show-prefix'])).stdout.trim();
  } catch {
    return { sha: null, changed: [] };
  }
  if (!/^[0-9a-f]{40,64}$/.test(head)) return { sha: null, changed: [] };
  const { stdout } = await git(config.source, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--', '.']);
  const ships = shipsFile(config);
  const changed: string[] = [];
  for (const entry of stdout.split('\0')) {
    if (entry.length < 4) continue;
    // "XY path", the path from the repository's root.
    const fromRoot = entry.slice(3);
    if (!fromRoot.startsWith(prefix)) continue;
    const path = fromRoot.slice(prefix.length);
    if (path !== '' && !path.endsWith('/') && ships(path)) changed.push(path);
  }
  return { sha: head, changed: changed.sort() };
}

export type Checkout = {
  /** The exported commit's copy of the source folder: what ships. */
  readonly source: string;
  readonly sha: string;
  dispose(): Promise<void>;
};

/**
 * `deploy --ref REF`: the commit REF names, exported with `git archive` into a temporary folder
 * (the repository, its index and its working tree are not touched), and the source folder's
 * place in it. Submodules are not part of an archive, and neither are files git ignores.
 */
export async function exportCommit(folder: string, ref: string): Promise<Checkout> {
  if (ref.startsWith('-') || ref.trim() === '' || /[\u0000-\u001f\u007f]/.test(ref)) {
    throw new DeployError('usage', `--ref ${JSON.stringify(ref)} is not a git ref.`, {
      hint: 'A commit, branch or tag: --ref v1.4.0, --ref main, --ref 3f2a9c1',
    });
  }
  let sha: string;
  let prefix: string;
  let root: string;
  try {
    root = (await git(folder, ['rev-parse', '--show-toplevel'])).stdout.trim();
    prefix = (await git(folder, ['rev-parse', '--show-prefix'])).stdout.trim();
  } catch {
    throw new DeployError('usage', `--ref needs the source folder ${folder} to be in a git checkout.`);
  }
  try {
    sha = (await git(folder, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).stdout.trim();
  } catch {
    throw new DeployError('usage', `--ref ${ref}: no such commit, branch or tag in ${root}.`, {
      hint: 'See what there is with git log --oneline, git branch -a, git tag (fetch first if it is on a remote).',
    });
  }
  const scratch = await mkdtemp(join(tmpdir(), 'mcp-deploy-ref-'));
  const dispose = () => rm(scratch, { recursive: true, force: true });
  try {
    const archive = join(scratch, 'tree.tar');
    const tree = join(scratch, 'tree');
    await execa('git', ['archive', '--format=tar', '-o', archive, sha], { cwd: root, timeout: 300_000 });
    await mkdir(tree);
    await execa('tar', ['-x', '-f', archive, '-C', tree], { timeout: 300_000 });
    await rm(archive, { force: true });
    const source = prefix === '' ? tree : join(tree, prefix);
    const found = await stat(source).catch(() => null);
    if (!found?.isDirectory()) {
      throw new DeployError(
        'usage',
        `--ref ${ref} (${sha.slice(0, 7)}) has no folder ${prefix.replace(/\/$/, '')}: nothing to deploy from it.`,
      );
    }
    return { source, sha, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
