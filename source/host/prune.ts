import { posix } from 'node:path';
import { DeployError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { mtimeShellFunction, parseEpoch } from './host-clock.js';
import { removeTreeFunction } from './remove-tree.js';
import { idOfPartialDirName, isSafeReleaseId, type HostLayout } from './layout.js';
import { compareNewestFirst, type Release } from './releases.js';

/**
 * Deciding what to remove (planPrune, pure) is separate from removing it (prune), so the rules
 * are tested without a host and the engine can show the plan before acting.
 *
 * Rules: keep the newest `keep` good releases, plus whatever is active, previous, current or named
 * by the live lock; failed releases never count towards `keep`, and the newest `keepFailed` of them
 * stay for debugging. Upload leftovers (`.partial`) go once they are older than `minAgeSeconds`
 * and not the lock's release. Venvs and shared install folders (shared/deps) go when no remaining
 * release uses them.
 */

/** A directory on the host and how long ago (host clock) it was last modified. */
export type AgedEntry = { readonly name: string; readonly ageSeconds: number | null };

export type KeepReason = 'newest' | 'active' | 'previous' | 'current' | 'locked' | 'recent-failure';

export type PruneOptions = {
  readonly keep: number;
  readonly active: string | null;
  readonly previous: string | null;
  /** Where `current` points, when it disagrees with state.json: kept all the same. */
  readonly current?: string | null;
  /** The release named in a live lock's info (an upload or cutover in progress). */
  readonly lockedRelease?: string | null;
  /** Failed releases kept for debugging; 2 by default. */
  readonly keepFailed?: number;
  /** Dot-named dirs in releases/ (see readPruneCandidates). */
  readonly garbage?: readonly AgedEntry[];
  /** Entries of shared/venvs (see readPruneCandidates). */
  readonly venvs?: readonly AgedEntry[];
  /** Entries of shared/deps (see readPruneCandidates). */
  readonly deps?: readonly AgedEntry[];
  /** Leftovers and unused venvs younger than this stay: something may be writing them. 1 hour by default. */
  readonly minAgeSeconds?: number;
};

export type PrunePlan = {
  /** Release ids to remove, oldest last. */
  readonly releases: readonly string[];
  /** Names of dot dirs in releases/ to remove. */
  readonly garbage: readonly string[];
  /** Names of dirs in shared/venvs to remove. */
  readonly venvs: readonly string[];
  /** Names of dirs in shared/deps to remove. */
  readonly deps: readonly string[];
  readonly kept: readonly { readonly id: string; readonly reasons: readonly KeepReason[] }[];
  /** Why something that looks removable was left, in words. */
  readonly notes: readonly string[];
};

const venvName = /^[0-9a-f]{16,128}$/;
/** A venv being built (`.<hash>.tmp-<rand>`), or one set aside by an interrupted prune. */
const venvTemporaryName = /^\.[0-9a-f]{16,128}\.tmp-[A-Za-z0-9_-]+$/;
/** A release set aside by prune before its removal (see prune below). */
const removingSuffix = '.removing';
const defaultMinAgeSeconds = 3600;

export function planPrune(releases: readonly Release[], options: PruneOptions): PrunePlan {
  if (!Number.isInteger(options.keep) || options.keep < 1)
    throw new Error(`keep must be a whole number of at least 1, got ${options.keep}`);
  const keepFailed = options.keepFailed ?? 2;
  const minAge = options.minAgeSeconds ?? defaultMinAgeSeconds;
  const notes: string[] = [];
  const reasons = new Map<string, KeepReason[]>();
  const keepFor = (id: string | null | undefined, reason: KeepReason) => {
    if (id === null || id === undefined) return;
    reasons.set(id, [...(reasons.get(id) ?? []), reason]);
  };
  keepFor(options.active, 'active');
  keepFor(options.previous, 'previous');
  keepFor(options.current, 'current');
  keepFor(options.lockedRelease, 'locked');

  const sorted = [...releases].sort(compareNewestFirst);
  for (const release of sorted.filter((candidate) => candidate.failed === null).slice(0, options.keep)) keepFor(release.id, 'newest');
  for (const release of sorted.filter((candidate) => candidate.failed !== null).slice(0, keepFailed)) keepFor(release.id, 'recent-failure');

  const remove = sorted.filter((release) => !reasons.has(release.id)).map((release) => release.id);
  const remaining = sorted.filter((release) => reasons.has(release.id));
  const kept = remaining.map((release) => ({ id: release.id, reasons: reasons.get(release.id) ?? [] }));

  const oldEnough = (entry: AgedEntry) => entry.ageSeconds !== null && entry.ageSeconds >= minAge;

  const garbage: string[] = [];
  for (const entry of options.garbage ?? []) {
    const partialOf = idOfPartialDirName(entry.name);
    if (partialOf !== null) {
      if (partialOf === options.lockedRelease) notes.push(`${entry.name} left: the live lock is for release ${partialOf}`);
      else if (oldEnough(entry)) garbage.push(entry.name);
      continue;
    }
    // Set aside by a prune that was interrupted before it finished removing it.
    if (entry.name.startsWith('.') && entry.name.endsWith(removingSuffix) && isSafeReleaseId(entry.name.slice(1, -removingSuffix.length))) {
      garbage.push(entry.name);
    }
  }

  const unknown = remaining.filter((release) => release.metadata === 'invalid').map((release) => release.id);
  const sharedFolders = (what: 'venv' | 'install folder', entries: readonly AgedEntry[], used: Set<string>): string[] => {
    const removable: string[] = [];
    for (const entry of entries) {
      if (venvTemporaryName.test(entry.name)) {
        if (oldEnough(entry)) removable.push(entry.name);
      } else if (venvName.test(entry.name) && !used.has(entry.name)) {
        // A young unused one may belong to an upload still in `.partial`, whose release.json we cannot see.
        if (oldEnough(entry)) removable.push(entry.name);
        else notes.push(`${what} ${entry.name} left: unused but built less than ${Math.round(minAge / 60)} minutes ago`);
      }
    }
    return removable;
  };
  let venvs: string[] = [];
  let deps: string[] = [];
  if (unknown.length > 0) {
    notes.push(
      `venvs and install folders left as they are: ${unknown.join(', ')} ${unknown.length === 1 ? 'has' : 'have'} an unreadable release.json, so the ones in use are not known`,
    );
  } else {
    const inUse = (pick: (release: Release) => string | null) =>
      new Set(remaining.map(pick).filter((hash): hash is string => hash !== null));
    venvs = sharedFolders(
      'venv',
      options.venvs ?? [],
      inUse((release) => release.requirementsHash),
    );
    deps = sharedFolders(
      'install folder',
      options.deps ?? [],
      inUse((release) => release.depsHash),
    );
  }
  return { releases: remove, garbage, venvs, deps, kept, notes };
}

export type PruneCandidates = {
  readonly garbage: readonly AgedEntry[];
  readonly venvs: readonly AgedEntry[];
  readonly deps: readonly AgedEntry[];
};

/** The dot dirs of releases/ and the entries of shared/venvs and shared/deps with their ages, in one remote command. */
export async function readPruneCandidates(transport: Transport, layout: HostLayout): Promise<PruneCandidates> {
  // Names outside the safe alphabet are skipped in sh too, so each line is exactly "<tag> <mtime> <name>".
  const listing = (tag: string, dir: string, glob: string) => [
    op('( cd --'),
    arg(dir),
    op(`2>/dev/null || exit 0; for d in ${glob}; do case $d in .|..|*[!A-Za-z0-9._-]*) continue ;; esac;`),
    op(`[ -d "$d" ] && [ ! -L "$d" ] && printf '${tag} %s %s\\n' "$(mtime "$d")" "$d"; done; exit 0 );`),
  ];
  const text = script(
    op(mtimeShellFunction),
    op('; date -u +%s;'),
    ...listing('G', layout.releasesDir, '.*'),
    ...listing('V', layout.venvsDir, '* .*'),
    ...listing('D', layout.depsRoot, '* .*'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 60_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not list prune candidates on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  const [first = '', ...lines] = result.stdout.split('\n');
  const now = parseEpoch(first, transport.label);
  const garbage: AgedEntry[] = [];
  const venvs: AgedEntry[] = [];
  const deps: AgedEntry[] = [];
  for (const line of lines) {
    const match = /^([GVD]) (\S+) (.+)$/.exec(line);
    if (!match) continue;
    const [, tag, mtime, name] = match;
    if (name === undefined || mtime === undefined) continue;
    const ageSeconds = /^\d+$/.test(mtime) ? Math.max(0, now - Number(mtime)) : null;
    (tag === 'G' ? garbage : tag === 'V' ? venvs : deps).push({ name, ageSeconds });
  }
  return { garbage, venvs, deps };
}

export type PruneResult = {
  readonly releases: readonly string[];
  readonly logs: readonly string[];
  readonly garbage: readonly string[];
  readonly venvs: readonly string[];
  readonly deps: readonly string[];
  /** Paths that could not be removed (their error went to the command's stderr, quoted in `error`). */
  readonly failed: readonly string[];
  readonly error?: string;
};

/**
 * Carries out a plan. A release or venv is first renamed to a dot name and then removed, so a
 * listing never sees a half-deleted one (a release dir that exists is complete) and an
 * interrupted prune leaves only garbage the next prune collects. Venvs are removed only when every
 * planned release removal succeeded. Run it while holding the deploy lock.
 */
export async function prune(transport: Transport, layout: HostLayout, plan: PrunePlan): Promise<PruneResult> {
  const releasePairs = plan.releases.map(
    (id) => [layout.releaseDir(id), posix.join(layout.releasesDir, `.${id}${removingSuffix}`)] as const,
  );
  // A release's log and its environment file go with it.
  const logPaths = plan.releases.flatMap((id) => [layout.logFile(id), layout.releaseEnvFile(id)]);
  const garbagePaths = plan.garbage.map((name) => {
    if (!name.startsWith('.') || !isSafeReleaseId(name.slice(1))) throw new Error(`not a garbage dir name: ${JSON.stringify(name)}`);
    return posix.join(layout.releasesDir, name);
  });
  const sharedPairs = (names: readonly string[], dir: string, path: (name: string) => string) =>
    names.map((name) => {
      if (venvTemporaryName.test(name)) return [posix.join(dir, name), posix.join(dir, name)] as const;
      return [path(name), posix.join(dir, `.${name}.tmp-pruning`)] as const;
    });
  const venvPairs = [
    ...sharedPairs(plan.venvs, layout.venvsDir, layout.venvDir),
    ...sharedPairs(plan.deps, layout.depsRoot, layout.depsDir),
  ];

  const first = await removeAll(transport, [
    ...releasePairs,
    ...logPaths.map((path) => [path, path] as const),
    ...garbagePaths.map((path) => [path, path] as const),
  ]);
  const releaseFailures = releasePairs.filter(([path]) => !first.removed.has(path));
  const second =
    releaseFailures.length === 0 && venvPairs.length > 0
      ? await removeAll(transport, venvPairs)
      : { removed: new Set<string>(), error: '' };
  const removed = new Set([...first.removed, ...second.removed]);
  const failed = [
    ...releasePairs.map(([path]) => path),
    ...logPaths,
    ...garbagePaths,
    ...(releaseFailures.length === 0 ? venvPairs.map(([path]) => path) : []),
  ].filter((path) => !removed.has(path));
  const error = [first.error, second.error].filter((text) => text !== '').join('\n');
  return {
    releases: plan.releases.filter((id) => removed.has(layout.releaseDir(id))),
    logs: plan.releases.filter((id) => removed.has(layout.logFile(id))),
    garbage: plan.garbage.filter((name) => removed.has(posix.join(layout.releasesDir, name))),
    venvs: plan.venvs.filter((_name, index) => {
      const pair = venvPairs[index];
      return pair !== undefined && removed.has(pair[0]);
    }),
    deps: plan.deps.filter((_name, index) => {
      const pair = venvPairs[plan.venvs.length + index];
      return pair !== undefined && removed.has(pair[0]);
    }),
    failed,
    ...(error === '' ? {} : { error }),
  };
}

/**
 * One command for many (path, set-aside name) pairs: set the path aside with an atomic rename,
 * then remove it; a pair with both the same is removed in place. Prints each path it removed (or
 * found already gone). Every path was built by layout.ts from a checked name.
 */
async function removeAll(
  transport: Transport,
  pairs: readonly (readonly [string, string])[],
): Promise<{ removed: Set<string>; error: string }> {
  if (pairs.length === 0) return { removed: new Set(), error: '' };
  const text = script(
    op(removeTreeFunction),
    op('set --'),
    ...pairs.flatMap(([path, aside]) => [arg(path), arg(aside)]),
    op(';'),
    op('while [ "$#" -ge 2 ]; do'),
    op(`if [ ! -e "$1" ] && [ ! -L "$1" ]; then printf '%s\\n' "$1";`),
    op(`elif [ "$1" = "$2" ]; then mcpd_rmtree "$1" && printf '%s\\n' "$1";`),
    op(`elif mcpd_rmtree "$2" && mv -T -- "$1" "$2" && mcpd_rmtree "$2"; then printf '%s\\n' "$1"; fi;`),
    op('shift 2; done; exit 0'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 600_000 });
  return { removed: new Set(result.stdout.split('\n').filter((line) => line !== '')), error: result.stderr.trim() };
}
