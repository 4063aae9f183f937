import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { encodeFileName } from '../project/file-names.js';
import { arg, cmd, op, type ScriptPart } from './quote.js';
import type { UploadEntry } from './upload-entry.js';

/**
 * Unchanged files, linked on the host from the same path in another tree (the base release), do
 * not each travel as a tar member (512 bytes of header apiece, ~50 after compression: 200 KB for
 * 4,000 files, twice rsync's whole exchange). They travel as a NUL-separated list of paths, a
 * file inside the archive, and one `cp -l --parents` per source tree (xargs: one process for
 * thousands of names) links them after tar is done. Names are never part of a command line.
 *
 * The links are made after tar, so tar must leave every folder writable: folders without owner
 * write or search get their mode from a second list (`mode\0path\0`, deepest first), applied last.
 */

export type LinkLists = {
  readonly entries: readonly UploadEntry[];
  /** Shell text to run in the upload root after tar, ending with `&&` when not empty. */
  readonly steps: readonly ScriptPart[];
};

export function planLinkLists(entries: readonly UploadEntry[]): LinkLists {
  const groups = new Map<string, Buffer[]>();
  const kept: UploadEntry[] = [];
  for (const entry of entries) {
    const root = entry.kind === 'link' ? sourceRoot(entry.from, entry.path) : null;
    if (entry.kind !== 'link' || root === null) {
      kept.push(entry);
      continue;
    }
    const list = groups.get(root) ?? [];
    list.push(encodeFileName(entry.path), Buffer.from([0]));
    groups.set(root, list);
  }
  if (groups.size === 0) return { entries, steps: [] };

  // Unique per upload, so no name in the tree can be taken for it.
  const scratch = `.mcp-deploy-upload-${randomBytes(6).toString('hex')}`;
  const modes: { depth: number; fields: Buffer[] }[] = [];
  const result: UploadEntry[] = [{ kind: 'dir', path: scratch, mode: 0o700 }];
  for (const entry of kept) {
    if (entry.kind === 'dir' && (entry.mode & 0o300) !== 0o300) {
      result.push({ ...entry, mode: entry.mode | 0o700 });
      modes.push({
        depth: entry.path.split('/').length,
        fields: [Buffer.from((entry.mode & 0o7777).toString(8)), Buffer.from([0]), encodeFileName(entry.path), Buffer.from([0])],
      });
    } else result.push(entry);
  }
  const steps: ScriptPart[] = [];
  let index = 0;
  for (const [root, list] of groups) {
    const name = `${scratch}/links-${index}`;
    index += 1;
    result.push({ kind: 'data', path: name, mode: 0o600, data: Buffer.concat(list) });
    // The list is opened here, in the upload root, before the subshell moves to the source tree.
    steps.push(op('mcpd_to=$(pwd) && ( cd --'), arg(root), op('&& xargs -0 -r cp -l --parents -t "$mcpd_to" -- ) <'), arg(name), op('&&'));
  }
  if (modes.length > 0) {
    const name = `${scratch}/modes`;
    modes.sort((a, b) => b.depth - a.depth);
    result.push({ kind: 'data', path: name, mode: 0o600, data: Buffer.concat(modes.flatMap((mode) => mode.fields)) });
    steps.push(op('xargs -0 -r -n 2 chmod -- <'), arg(name), op('&&'));
  }
  steps.push(cmd(['rm', '-rf', '--', scratch]), op('&&'));
  return { entries: result, steps };
}

/** The tree `from` lies in when it is `path` there, or null. */
function sourceRoot(from: string, path: string): string | null {
  const normal = posix.normalize(from);
  const suffix = `/${path}`;
  return normal.endsWith(suffix) && normal.length > suffix.length ? normal.slice(0, -suffix.length) : null;
}
