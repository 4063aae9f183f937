import { randomBytes } from 'node:crypto';
import { DeployError } from '../errors.js';
import { catFiles, unreadableFileCode } from '../remote/file-commands.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { appendAudit } from './audit.js';
import { hostNow, mtimeShellFunction } from './host-clock.js';
import type { HostLayout } from './layout.js';
import { describeHolder, heldReport, lockedError, parseHeldReport, type LockInfo, type LockStatus } from './lock-status.js';
import { type Acquired, parseAcquired, releaseLockScript, stillOurs } from './lock-scripts.js';

export { lockCheckFailure, lockCheckMarker, releaseLockScript, withLockCheck } from './lock-scripts.js';

/**
 * The deploy lock: a directory made with `mkdir`, which is atomic on every POSIX file system, so
 * of two operators racing exactly one wins, and the winner is decided on the host rather than by
 * either laptop. `info.json` inside says who holds it; its time comes from the host's clock. The
 * holder keeps `heartbeat` fresh (refreshLock) and, before each step that changes the host,
 * checks that the lock still carries its token: a lock broken with `--force` is noticed.
 */

export {
  describeHolder,
  heldReport,
  parseHeldReport,
  isDeliberateLock,
  readLock,
  type LockInfo,
  type LockStatus,
  type StaleReason,
} from './lock-status.js';

/**
 * What a lock is for. Every run takes it for its own length; `lock` is the deliberate lock of
 * `mcp-deploy lock acquire -m REASON`, held with no process behind it until `lock release`.
 */
export type LockOperation = 'deploy' | 'rollback' | 'restart' | 'prune' | 'lock';

export type LockRequest = {
  /** The target's name, for messages. */
  readonly target: string;
  readonly operator: string;
  readonly localHost: string;
  readonly pid: number;
  /** Where `pid` means something (lock-status.ts localMachine()); omitted when unknown. */
  readonly machine?: string;
  readonly release: string | null;
  readonly operation: LockOperation;
  /** Create the deploy root if it is missing (a first deploy); otherwise a missing root is an error. */
  readonly createRoot?: boolean;
  /** When given, a contended lock that looks stale says so in the error. */
  readonly staleMinutes?: number;
  /** The reason of a deliberate lock (operation `lock`). */
  readonly message?: string;
};

export type HeldLock = { readonly token: string; readonly info: LockInfo };

// Exit codes of the acquire script, besides 0 (acquired or held: see stdout).
const noRootExit = 3;

/**
 * Takes the lock in one remote command, or throws DeployError('locked') naming the holder.
 *
 * The script makes the directory, starts the heartbeat, then writes info.json (our JSON from
 * stdin, with the host's time spliced in front) through a temporary file. Between the `mkdir` and
 * the rename, the lock exists without info: a reader sees `info: null` for those few milliseconds
 * (readLock explains it), and a holder killed exactly then leaves a lock that only its age can
 * mark stale.
 */
export async function acquireLock(transport: Transport, layout: HostLayout, request: LockRequest): Promise<HeldLock> {
  return (await acquireLockAndRead(transport, layout, request)).lock;
}

/** What the holder reads in the same command that takes the lock (see acquireLockAndRead). */
export type LockReads = {
  /** Files read once the lock is ours. */
  readonly files?: readonly string[];
  /** List the releases whose id starts with the lock's time stamp (a deploy's id must be new). */
  readonly sameSecondReleases?: boolean;
};

export type LockedReads = {
  readonly lock: HeldLock;
  /** Each file asked for: its bytes, or null when it does not exist. */
  readonly files: ReadonlyMap<string, Buffer | null>;
  /** The ids in releases/ that start with the host's time stamp at the lock (`YYYYMMDDTHHMMSSZ`). */
  readonly sameSecondReleases: ReadonlySet<string>;
};

/**
 * acquireLock, and in the same command, once the lock is ours, what a run reads first (state.json,
 * where nginx sends traffic, the release ids already taken in the lock's second): one round trip
 * where each read would cost another. Read after the lock is taken, so no other run can be
 * changing them.
 */
export async function acquireLockAndRead(
  transport: Transport,
  layout: HostLayout,
  request: LockRequest,
  reads: LockReads = {},
): Promise<LockedReads> {
  const token = randomBytes(12).toString('hex');
  const body = {
    operator: request.operator,
    localHost: request.localHost,
    pid: request.pid,
    ...(request.machine === undefined ? {} : { machine: request.machine }),
    release: request.release,
    operation: request.operation,
    token,
    ...(request.message === undefined ? {} : { message: request.message }),
  };
  const temporary = `${layout.lockDir}/.info.tmp`;
  const text = script(
    op(mtimeShellFunction),
    op(';'),
    ...(request.createRoot
      ? [op('mkdir -p --'), arg(layout.root), op('|| exit 1;')]
      : [op('[ -d'), arg(layout.root), op(`] || exit ${noRootExit};`)]),
    op('if err=$(mkdir --'),
    arg(layout.lockDir),
    op('2>&1); then'),
    op(`set -- $(date -u '+%s %Y-%m-%dT%H:%M:%SZ %Y%m%dT%H%M%SZ');`),
    op(': >'),
    arg(layout.lockHeartbeat),
    op('&& if [ -n "$2" ] && { printf \'{"startedAt":%s,"startedAtIso":"%s",\' "$1" "$2" && tail -c +2; } >'),
    arg(temporary),
    op('&& mv -f --'),
    arg(temporary),
    arg(layout.lockInfo),
    op(`; then printf 'acquired %s %s\\n' "$1" "$2";`),
    ...(reads.sameSecondReleases
      ? [
          // A function, so that the releases folder and the stamp are one word each in the glob.
          op(
            `mcpd_taken() { for mcpd_entry in "$1"/"$2"*; do case \${mcpd_entry##*/} in *[!A-Za-z0-9._-]*) continue ;; esac; if test -e "$mcpd_entry" || test -L "$mcpd_entry"; then printf 'taken %s\\n' "\${mcpd_entry##*/}"; fi; done; }; mcpd_taken`,
          ),
          arg(layout.releasesDir),
          op('"$3";'),
        ]
      : []),
    op(`printf 'files\\n';`),
    ...catFiles(reads.files ?? []),
    op('exit 0; fi;'),
    // Could not record who holds it: an anonymous lock is worse than none.
    op('rm -rf --'),
    arg(layout.lockDir),
    op(`; echo 'could not write the lock info' >&2; exit 1;`),
    op('fi;'),
    ...heldReport(layout),
    op(`printf '%s\\n' "$err" >&2; exit 1`),
  );

  // One retry: the holder may release between our failed mkdir and our look at what is there.
  for (let attempt = 1; ; attempt += 1) {
    const result = await transport.run({ script: text }, { input: JSON.stringify(body), timeoutMs: 30_000 });
    if (result.code === noRootExit) {
      throw new DeployError('host-state', `The deploy root ${layout.root} does not exist on ${transport.label}.`, {
        hint: 'Check the target "path", or deploy once to create it.',
      });
    }
    if (result.code === unreadableFileCode) {
      // The lock is ours, but what it was taken to read is not readable: give it back.
      await releaseLock(transport, layout, token).catch(() => {});
      throw new DeployError(
        'host-state',
        `Could not read ${(reads.files ?? []).join(', ')} on ${transport.label}: ${result.stderr.trim()}`,
        {
          hint: 'Check the permissions under the deploy root and of the nginx includes: mcp-deploy doctor checks them.',
        },
      );
    }
    if (result.code === 0 && result.stdout.startsWith('acquired ')) {
      let acquired: Acquired;
      try {
        acquired = parseAcquired(result.stdoutBytes, reads.files ?? []);
      } catch (error) {
        await releaseLock(transport, layout, token).catch(() => {});
        throw new DeployError(
          'host-state',
          `Taking the lock on ${transport.label} printed an answer we cannot read: ${(error as Error).message}.`,
        );
      }
      return {
        lock: { token, info: { ...body, startedAt: acquired.epoch, startedAtIso: acquired.iso } },
        files: acquired.files,
        sameSecondReleases: acquired.taken,
      };
    }
    if (result.code === 0) {
      const status = parseHeldReport(result.stdout, {
        staleMinutes: request.staleMinutes,
        localHostName: request.localHost,
        machine: request.machine,
      });
      if (status.held) throw lockedError(request.target, layout, status);
    }
    if (attempt >= 2) {
      const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-3).join(' ');
      throw new DeployError(
        'host-state',
        `Could not create the lock ${layout.lockDir} on ${transport.label}: ${detail || `exit ${result.code}`}.`,
        {
          hint: 'Check that the deploy user can write to the deploy root, and that deploy.lock is a directory if it exists.',
        },
      );
    }
  }
}

export type LockCheck = { readonly ours: true } | { readonly ours: false; readonly now: LockStatus };

/**
 * The holder's heartbeat and its proof of ownership in one round trip: when the lock still
 * carries `token`, its heartbeat is touched (the host's clock dates it); otherwise the answer says
 * who holds the lock now, or that nobody does.
 */
export async function refreshLock(
  transport: Transport,
  layout: HostLayout,
  token: string,
  stale: { localHostName: string; staleMinutes?: number; machine?: string | undefined },
): Promise<LockCheck> {
  const text = script(
    op(mtimeShellFunction),
    op('; if'),
    ...stillOurs(layout, token),
    op('&& : >'),
    arg(layout.lockHeartbeat),
    op("; then printf 'ours\\n'; exit 0; fi;"),
    ...heldReport(layout),
    op("printf 'free\\n'"),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not check the lock on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  if (result.stdout.trim() === 'ours') return { ours: true };
  return { ours: false, now: parseHeldReport(result.stdout, stale) };
}

export type ReleaseOutcome = 'released' | 'not-held' | 'not-ours';

/**
 * Removes the lock only if its info still carries `token`, so a holder whose lock was broken
 * (`unlock --force`) and taken by someone else never removes the new holder's lock. The check and
 * the removal run in one command; the window between them is a few milliseconds on the host.
 */
export async function releaseLock(transport: Transport, layout: HostLayout, expectedToken: string): Promise<ReleaseOutcome> {
  const result = await transport.run({ script: script(...releaseLockScript(layout, expectedToken)) }, { timeoutMs: 30_000 });
  return releaseOutcome(transport, layout, result.code, result.stdout.trim(), result.stderr);
}

/** The outcome releaseLockScript printed (its last line, `outcome`), or the error when it did not run through. */
export function releaseOutcome(transport: Transport, layout: HostLayout, code: number, outcome: string, stderr: string): ReleaseOutcome {
  if (code !== 0 || (outcome !== 'released' && outcome !== 'not-held' && outcome !== 'not-ours')) {
    throw new DeployError('host-state', `Could not release the lock on ${transport.label}: ${stderr.trim() || `exit ${code}`}.`, {
      hint: `Remove ${layout.lockDir} by hand once no deploy is running, or run: mcp-deploy unlock --force`,
    });
  }
  return outcome;
}

/**
 * Removes whatever is where the lock goes (the lock directory, or a file in its place), and
 * only that. With `expectedToken`, only the lock that still carries it: a lock taken by someone
 * else since it was looked at is left alone (`removed: false`). Says whether there was one.
 */
export async function breakLock(transport: Transport, layout: HostLayout, expectedToken?: string): Promise<{ removed: boolean }> {
  const text = script(
    op('if [ ! -e'),
    arg(layout.lockDir),
    op('] && [ ! -L'),
    arg(layout.lockDir),
    op("]; then printf 'absent\\n'; exit 0; fi;"),
    ...(expectedToken === undefined
      ? []
      : [op('if ! '), ...stillOurs(layout, expectedToken), op("; then printf 'changed\\n'; exit 0; fi;")]),
    op('rm -rf --'),
    arg(layout.lockDir),
    op("&& printf 'removed\\n'"),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not remove ${layout.lockDir} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  return { removed: result.stdout.trim() === 'removed' };
}

/** Who breaks a lock, for the audit log. */
export type LockBreaker = { readonly operator: string; readonly localHost: string; readonly target: string };

/**
 * A forced break (`unlock --force`, `deploy --force` on a stale lock): removes the lock seen in
 * `status` (not one taken since) and appends an `unlock` line naming its holder to audit.log.
 * Returns the holder in words, for the operator's screen, or null when there was nothing to break.
 */
export async function breakLockOnRecord(
  transport: Transport,
  layout: HostLayout,
  status: LockStatus,
  by: LockBreaker,
): Promise<string | null> {
  if (!status.held) return null;
  const { removed } = await breakLock(transport, layout, status.info?.token);
  if (!removed) return null;
  const holder = `${describeHolder(status)}${status.stale ? `; stale: ${status.staleReason}` : ''}`;
  const at = await hostNow(transport).then(
    (time) => time.iso,
    () => new Date().toISOString(),
  );
  await appendAudit(transport, layout, {
    at,
    operator: by.operator,
    localHost: by.localHost,
    target: by.target,
    operation: 'unlock',
    from: status.info?.release ?? null,
    to: null,
    result: 'ok',
    steps: [],
    brokenLock: holder,
    ...(status.info?.message === undefined ? {} : { message: status.info.message }),
  });
  return holder;
}
