import { metaDirName } from '../host/layout.js';
import { printableName } from '../project/file-names.js';
import type { ArrivedFile } from '../remote/tree-inventory.js';
import type { Manifest } from './manifest.js';

/**
 * A release on the host against its manifest: every file there, no file more (mcp-deploy's own
 * `.mcp-deploy/` aside), each with its size, and its sha256 wherever the host hashed it. Modes are
 * compared without the write bits, which releases take off their files (tar-upload.ts).
 */

export type ReleaseProblem = {
  readonly path: string;
  readonly problem: string;
  /** The file shares its inode with another release (it was linked, not sent). */
  readonly linked: boolean;
};

export type ReleaseCheck = {
  readonly checked: number;
  readonly hashed: number;
  readonly problems: readonly ReleaseProblem[];
};

export function checkRelease(manifest: Manifest, files: ReadonlyMap<string, ArrivedFile>): ReleaseCheck {
  const problems: ReleaseProblem[] = [];
  let hashed = 0;
  const listed = new Set<string>();
  for (const entry of manifest) {
    listed.add(entry.path);
    const file = files.get(entry.path);
    if (file === undefined) {
      problems.push({ path: entry.path, problem: 'missing', linked: false });
      continue;
    }
    const linked = file.links > 1;
    if (file.sha256 !== null) hashed += 1;
    if (file.size !== entry.size) problems.push({ path: entry.path, problem: `${file.size} bytes instead of ${entry.size}`, linked });
    else if (file.sha256 !== null && file.sha256 !== entry.sha256)
      problems.push({ path: entry.path, problem: 'other bytes than its sha256 in the manifest', linked });
    else if ((file.mode & 0o7555) !== (entry.mode & 0o7555))
      problems.push({
        path: entry.path,
        problem: `mode ${(file.mode & 0o7777).toString(8)} instead of ${(entry.mode & 0o7777).toString(8)}`,
        linked,
      });
  }
  for (const [path, file] of files) {
    if (listed.has(path) || path.startsWith(`${metaDirName}/`)) continue;
    problems.push({ path, problem: 'not in the manifest', linked: file.links > 1 });
  }
  return { checked: manifest.length, hashed, problems };
}

/** "a.txt: 12 bytes instead of 10; b.bin: missing (and 3 more)" */
export function describeProblems(problems: readonly ReleaseProblem[], shown = 5): string {
  const listed = problems.slice(0, shown).map((problem) => `${printableName(problem.path)}: ${problem.problem}`);
  return `${listed.join('; ')}${problems.length > shown ? ` (and ${problems.length - shown} more)` : ''}`;
}
