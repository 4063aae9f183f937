import { posix } from 'node:path';
import { DeployError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import type { HostLayout } from './layout.js';

/**
 * shared.dirs and shared.files on the host: `shared/<path>` lives outside every release, and each
 * release gets a relative symlink `<path> -> ../../shared/<path>` (relative, like `current`, so
 * the deploy root can move). A shared folder is created when missing; a shared file must already
 * be there (it is the host's: a config with secrets, a database), and a deploy never writes it.
 *
 * Linking is idempotent: a release whose links are in place is left as it is, so deploy, rollback
 * and restart can all make sure of them before the release starts.
 */

export type SharedEntries = { readonly dirs: readonly string[]; readonly files: readonly string[] };

export type LinkOutcome = {
  readonly path: string;
  readonly kind: 'dir' | 'file';
  /**
   * linked: made now; kept: already linked; release-copy: the release has its own copy at that path
   * (it was shipped before the path was shared) and keeps it; missing: a shared file not on the host.
   */
  readonly result: 'linked' | 'kept' | 'release-copy' | 'missing';
};

const noRelease = 3;

/** The link's target, relative to the folder the link sits in. */
export function sharedLinkTarget(layout: HostLayout, release: string, path: string): string {
  const link = posix.join(layout.releaseDir(release), path);
  return posix.relative(posix.dirname(link), posix.join(layout.sharedDir, path));
}

/** Links every entry into `releases/<release>` in one remote command; says what happened to each. */
export async function linkShared(
  transport: Transport,
  layout: HostLayout,
  release: string,
  entries: SharedEntries,
): Promise<LinkOutcome[]> {
  const all = [
    ...entries.dirs.map((path) => ({ path, kind: 'dir' as const })),
    ...entries.files.map((path) => ({ path, kind: 'file' as const })),
  ];
  if (all.length === 0) return [];
  const releaseDir = layout.releaseDir(release);
  const text = script(
    op('[ -d'),
    arg(releaseDir),
    op(`] || exit ${noRelease}; set --`),
    ...all.flatMap(({ path, kind }, index) => [
      arg(kind),
      arg(String(index)),
      arg(posix.join(layout.sharedDir, path)),
      arg(posix.join(releaseDir, path)),
      arg(sharedLinkTarget(layout, release, path)),
    ]),
    op(`;
while [ "$#" -ge 5 ]; do
  kind=$1; n=$2; src=$3; link=$4; target=$5; shift 5
  if [ "$kind" = dir ]; then
    [ -d "$src" ] || mkdir -p -- "$src" || { printf 'error %s\\n' "$n"; continue; }
  elif [ ! -e "$src" ]; then printf 'missing %s\\n' "$n"; continue; fi
  if [ -L "$link" ] && [ "$(readlink -- "$link")" = "$target" ]; then printf 'kept %s\\n' "$n"; continue; fi
  if [ -e "$link" ] && [ ! -L "$link" ]; then printf 'release-copy %s\\n' "$n"; continue; fi
  mkdir -p -- "$(dirname -- "$link")" && ln -sfn -- "$target" "$link" && printf 'linked %s\\n' "$n" || printf 'error %s\\n' "$n"
done`),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 60_000 });
  if (result.code === noRelease)
    throw new DeployError('host-state', `Release ${release} does not exist on ${transport.label} (${releaseDir}).`);
  const outcomes = new Map<number, string>();
  for (const line of result.stdout.split('\n')) {
    const match = /^(linked|kept|release-copy|missing|error) (\d+)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) outcomes.set(Number(match[2]), match[1]);
  }
  const failed = all.filter((_entry, index) => outcomes.get(index) === 'error' || !outcomes.has(index));
  if (result.code !== 0 || failed.length > 0) {
    const detail = result.stderr.trim().split('\n').slice(-3).join(' ');
    throw new DeployError(
      'host-state',
      `Could not link ${failed.map((entry) => entry.path).join(', ') || 'the shared paths'} into ${releaseDir} on ${transport.label}${detail ? `: ${detail}` : ''}.`,
      { hint: `Check that the deploy user can write to ${layout.sharedDir} and to the release.` },
    );
  }
  return all.map((entry, index) => ({ ...entry, result: outcomes.get(index) as LinkOutcome['result'] }));
}
