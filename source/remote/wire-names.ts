import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { encodeFileName, hasEscapedBytes } from '../project/file-names.js';
import type { UploadEntry } from './transport.js';

/**
 * SFTP in ssh2 carries every path as a UTF-8 string, but a Linux file name is any bytes. A name
 * that is not UTF-8 (a string with surrogate escapes, see file-names.ts) therefore crosses the
 * wire under a stand-in name made of its hash, and is renamed on the host afterwards by `mv`,
 * `ln` and `chmod` run under `xargs -0`, which read the real names as NUL-separated bytes on
 * stdin: no name is ever part of a command line, so nothing needs quoting and every byte arrives.
 * A tree without such names takes none of this: the plan is then just the entries themselves.
 */

export type WirePlan = {
  /** What SFTP creates: every path UTF-8. */
  readonly entries: readonly UploadEntry[];
  /** Relative stand-in paths of directories whose mode `finish` sets (after renaming them). */
  readonly modesSetLater: ReadonlySet<string>;
  /** Shell steps that finish the tree, in order; each is `xargs -0` over `input`. Empty for a UTF-8 tree. */
  readonly finish: readonly FinishStep[];
};

export type FinishStep = { readonly what: string; readonly argv: readonly string[]; readonly input: Buffer };

const standInPrefix = '.mcp-deploy-name-';

/** A UTF-8 name for a segment that is not: the same segment always gets the same stand-in. */
function standIn(segment: string): string {
  return `${standInPrefix}${createHash('sha256').update(encodeFileName(segment)).digest('hex').slice(0, 24)}`;
}

export function planWireNames(remoteRoot: string, entries: readonly UploadEntry[]): WirePlan {
  const odd = (path: string) => hasEscapedBytes(path);
  if (
    !entries.some(
      (entry) => odd(entry.path) || (entry.kind === 'link' && odd(entry.from)) || (entry.kind === 'symlink' && odd(entry.target)),
    )
  ) {
    return { entries, modesSetLater: new Set(), finish: [] };
  }
  const wire = (path: string) =>
    path
      .split('/')
      .map((segment) => (odd(segment) ? standIn(segment) : segment))
      .join('/');
  const absolute = (path: string) => encodeFileName(posix.join(remoteRoot, path));

  const sent: UploadEntry[] = [];
  const links: Buffer[] = [];
  const symlinks: Buffer[] = [];
  const modes: { depth: number; pair: Buffer[] }[] = [];
  const modesSetLater = new Set<string>();
  const linked: string[] = [];
  for (const entry of entries) {
    const path = wire(entry.path);
    if (entry.kind === 'dir' && odd(entry.path)) {
      // Created owner-writable; its own mode once its children are in and it has its real name.
      sent.push({ ...entry, path, mode: 0o700 });
      modesSetLater.add(path);
      modes.push({ depth: depth(entry.path), pair: [Buffer.from(entry.mode.toString(8)), absolute(entry.path)] });
    } else if (entry.kind === 'link' && odd(entry.from)) {
      links.push(encodeFileName(entry.from), absolute(path));
      linked.push(path);
    } else if (entry.kind === 'symlink' && odd(entry.target)) {
      symlinks.push(encodeFileName(entry.target), absolute(path));
      linked.push(path);
    } else sent.push({ ...entry, path });
  }

  // Every path that exists in the tree, parents included; each whose own name is not UTF-8 is
  // renamed, deepest first, so that a parent still has its stand-in name while its children move.
  const all = new Set<string>();
  for (const entry of entries) {
    const segments = entry.path.split('/');
    for (let length = 1; length <= segments.length; length += 1) all.add(segments.slice(0, length).join('/'));
  }
  const renames = [...all]
    .filter((path) => odd(posix.basename(path)))
    .sort((a, b) => depth(b) - depth(a))
    .flatMap((path) => [absolute(wire(path)), absolute(posix.join(wire(posix.dirname(path)), posix.basename(path)))]);

  // SFTP made the parents of what it sent; links and symlinks made here may have others.
  const parents = [...new Set(linked.map((path) => posix.dirname(path)).filter((dir) => dir !== '.'))].map(absolute);

  const finish: FinishStep[] = [];
  // perCall: how many fields one command takes (pairs), or as many as fit.
  const step = (what: string, argv: readonly string[], perCall: number | 'many', fields: readonly Buffer[]) => {
    if (fields.length === 0) return;
    finish.push({
      what,
      argv: ['xargs', '-0', ...(perCall === 'many' ? [] : ['-n', String(perCall)]), ...argv],
      input: nulSeparated(fields),
    });
  };
  step('create the folders of links whose names are not UTF-8', ['mkdir', '-p', '--'], 'many', parents);
  step('hard-link unchanged files whose names are not UTF-8', ['ln', '--'], 2, links);
  step('create symlinks whose targets are not UTF-8', ['ln', '-s', '--'], 2, symlinks);
  step('give names that are not UTF-8 their real bytes', ['mv', '-T', '--'], 2, renames);
  step(
    'set the modes of folders whose names are not UTF-8',
    ['chmod', '--'],
    2,
    modes.sort((a, b) => b.depth - a.depth).flatMap((mode) => mode.pair),
  );
  return { entries: sent, modesSetLater, finish };
}

function depth(path: string): number {
  return path.split('/').length;
}

function nulSeparated(fields: readonly Buffer[]): Buffer {
  return Buffer.concat(fields.flatMap((field) => [field, Buffer.from([0])]));
}
