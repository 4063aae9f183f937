import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeployError } from '../errors.js';
import { arg, op, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { formatAge } from '../run/format.js';
import { mtimeShellFunction } from './host-clock.js';
import type { HostLayout } from './layout.js';

/**
 * The deploy lock: a directory made with `mkdir`, which is atomic on every POSIX file system, so
 * of two operators racing exactly one wins, and the winner is decided on the host rather than by
 * either laptop. `info.json` inside says who holds it; its time comes from the host's clock.
 */

/**
 * What a lock is for. Every run takes it for its own length; `lock` is the deliberate lock of
 * `mcp-deploy lock acquire -m REASON`, held with no process behind it until `lock release`.
 */
export type LockOperation = 'deploy' | 'rollback' | 'restart' | 'prune' | 'lock';

export type LockInfo = {
  readonly operator: string;
  readonly localHost: string;
  /** The holder's process id on its own machine (`localHost`). */
  readonly pid: number;
  /** Host clock, epoch seconds. */
  readonly startedAt: number;
  readonly startedAtIso: string;
  readonly release: string | null;
  readonly operation: string;
  /** Random, per acquisition: lets the holder release its own lock and nobody else's. */
  readonly token?: string;
  /** A deliberate lock's reason (`lock acquire -m`). */
  readonly message?: string;
};

// Loose: a newer mcp-deploy may add fields, and an older one must still name the holder.
const lockInfoSchema = z.looseObject({
  operator: z.string(),
  localHost: z.string(),
  pid: z.number().int(),
  startedAt: z.number(),
  startedAtIso: z.string(),
  release: z.string().nullable(),
  operation: z.string(),
  token: z.string().optional(),
  message: z.string().optional(),
});

export type LockRequest = {
  /** The target's name, for messages. */
  readonly target: string;
  readonly operator: string;
  readonly localHost: string;
  readonly pid: number;
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

export type StaleReason = 'holder process is gone' | `older than ${number} minutes`;

export type LockStatus =
  | { readonly held: false }
  | {
      readonly held: true;
      /** Null when the lock directory has no readable info.json; `unreadable` says why. */
      readonly info: LockInfo | null;
      readonly unreadable?: string;
      /** By the host's clock; from the directory's mtime when there is no info. Null if unknown. */
      readonly ageSeconds: number | null;
      readonly stale: boolean;
      readonly staleReason?: StaleReason;
    };

const lockHint = 'Wait for it to finish, or if it is stale, run: mcp-deploy unlock --force';

// Exit codes of the acquire script, besides 0 (acquired or held: see stdout).
const noRootExit = 3;

/**
 * Takes the lock in one remote command, or throws DeployError('locked') naming the holder.
 *
 * The script makes the directory, then writes info.json (our JSON from stdin, with the host's
 * time spliced in front) through a temporary file. Between the `mkdir` and the rename, the lock
 * exists without info: a reader sees `info: null` for those few milliseconds (readLock explains
 * it), and a holder killed exactly then leaves a lock that only its age can mark stale.
 */
export async function acquireLock(transport: Transport, layout: HostLayout, request: LockRequest): Promise<HeldLock> {
  const token = randomBytes(12).toString('hex');
  const body = {
    operator: request.operator,
    localHost: request.localHost,
    pid: request.pid,
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
    op(`set -- $(date -u '+%s %Y-%m-%dT%H:%M:%SZ');`),
    op('if [ -n "$2" ] && { printf \'{"startedAt":%s,"startedAtIso":"%s",\' "$1" "$2" && tail -c +2; } >'),
    arg(temporary),
    op('&& mv -f --'),
    arg(temporary),
    arg(layout.lockInfo),
    op(`; then printf 'acquired %s %s\\n' "$1" "$2"; exit 0; fi;`),
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
    if (result.code === 0) {
      const [word, epoch, iso] = result.stdout.trim().split(/\s+/);
      if (word === 'acquired' && epoch !== undefined && iso !== undefined) {
        return { token, info: { ...body, startedAt: Number(epoch), startedAtIso: iso } };
      }
      const status = parseHeldReport(result.stdout, { staleMinutes: request.staleMinutes, localHostName: request.localHost });
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

/** Whether the lock is held, by whom, and whether it looks abandoned. One remote command. */
export async function readLock(
  transport: Transport,
  layout: HostLayout,
  options: { staleMinutes: number; localHostName: string },
): Promise<LockStatus> {
  const text = script(op(mtimeShellFunction), op(';'), ...heldReport(layout), op("printf 'free\\n'"));
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new DeployError('host-state', `Could not read the lock on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`);
  }
  return parseHeldReport(result.stdout, options);
}

export type ReleaseOutcome = 'released' | 'not-held' | 'not-ours';

/**
 * Removes the lock only if its info still carries `token`, so a holder whose lock was broken
 * (`unlock --force`) and taken by someone else never removes the new holder's lock. The check and
 * the removal run in one command; the window between them is a few milliseconds on the host.
 */
export async function releaseLock(transport: Transport, layout: HostLayout, expectedToken: string): Promise<ReleaseOutcome> {
  if (!/^[0-9a-f]{8,64}$/.test(expectedToken)) throw new Error(`not a lock token: ${JSON.stringify(expectedToken)}`);
  const text = script(
    op('[ -d'),
    arg(layout.lockDir),
    op("] || { printf 'not-held\\n'; exit 0; };"),
    op('if grep -F -q -e'),
    arg(`"token":"${expectedToken}"`),
    op('--'),
    arg(layout.lockInfo),
    op('2>/dev/null; then rm -rf --'),
    arg(layout.lockDir),
    op("&& printf 'released\\n'; else printf 'not-ours\\n'; fi"),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  const outcome = result.stdout.trim();
  if (result.code !== 0 || (outcome !== 'released' && outcome !== 'not-held' && outcome !== 'not-ours')) {
    throw new DeployError(
      'host-state',
      `Could not release the lock on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
      {
        hint: `Remove ${layout.lockDir} by hand once no deploy is running, or run: mcp-deploy unlock --force`,
      },
    );
  }
  return outcome;
}

/** `unlock --force`: removes the lock directory whoever holds it. Says whether there was one. */
export async function breakLock(transport: Transport, layout: HostLayout): Promise<{ removed: boolean }> {
  const text = script(
    op('[ -d'),
    arg(layout.lockDir),
    op("] || { printf 'absent\\n'; exit 0; }; rm -rf --"),
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

/**
 * A lock taken on purpose (`mcp-deploy lock acquire`): no process holds it, so neither a gone
 * pid nor its age (nor any liveness signal a run's lock may carry) ever makes it stale. Only
 * `lock release` or `unlock --force` removes it.
 */
export function isDeliberateLock(info: LockInfo | null): boolean {
  return info?.operation === 'lock';
}

/** The message for a contended lock, as thrown by acquireLock; exported for `status`. */
export function describeHolder(status: Extract<LockStatus, { held: true }>): string {
  const age = status.ageSeconds === null ? 'unknown time' : formatAge(status.ageSeconds);
  const { info } = status;
  if (info === null) return `an unknown holder (${status.unreadable ?? 'no info.json'}; the lock is ${age} old)`;
  if (isDeliberateLock(info)) {
    return `${info.operator}@${info.localHost} since ${info.startedAtIso} (${age} ago), on purpose: ${JSON.stringify(info.message ?? '')}`;
  }
  const what = info.release === null ? info.operation : `${info.operation} of ${info.release}`;
  return `${info.operator}@${info.localHost} (pid ${info.pid}) since ${info.startedAtIso} (${age} ago) for ${what}`;
}

function lockedError(target: string, layout: HostLayout, status: Extract<LockStatus, { held: true }>): DeployError {
  const stale = status.stale ? `; it looks stale: ${status.staleReason}` : '';
  return new DeployError('locked', `${target} is locked by ${describeHolder(status)}${stale}.`, {
    hint: isDeliberateLock(status.info)
      ? 'It was taken with mcp-deploy lock acquire; once that work is done: mcp-deploy lock release'
      : `${lockHint} (the lock is ${layout.lockDir}).`,
  });
}

/** Script lines that, when the lock exists, print `held`, host now, lock dir mtime, info.json; and exit 0. */
export function heldReport(layout: HostLayout): ScriptPart[] {
  return [
    op('if [ -d'),
    arg(layout.lockDir),
    op("]; then printf 'held\\n'; date -u +%s; mtime"),
    arg(layout.lockDir),
    op('; cat --'),
    arg(layout.lockInfo),
    op('2>/dev/null; exit 0; fi;'),
  ];
}

/** Reads what `heldReport` (after `mtimeShellFunction`) printed; exported for the status sampler's one script per tick. */
export function parseHeldReport(stdout: string, options: { staleMinutes?: number | undefined; localHostName: string }): LockStatus {
  const [word, nowText, mtimeText, ...rest] = stdout.split('\n');
  if (word !== 'held') return { held: false };
  const now = Number(nowText);
  const mtime = Number(mtimeText);
  const { info, unreadable } = parseInfo(rest.join('\n'));
  let ageSeconds: number | null = null;
  if (Number.isFinite(now) && nowText !== '') {
    if (info !== null) ageSeconds = Math.max(0, now - info.startedAt);
    else if (Number.isFinite(mtime) && mtimeText !== '') ageSeconds = Math.max(0, now - mtime);
  }
  const staleReason = judgeStale(info, ageSeconds, options);
  return {
    held: true,
    info,
    ...(unreadable === undefined ? {} : { unreadable }),
    ageSeconds,
    stale: staleReason !== undefined,
    ...(staleReason === undefined ? {} : { staleReason }),
  };
}

function parseInfo(text: string): { info: LockInfo | null; unreadable?: string } {
  if (text.trim() === '') {
    return {
      info: null,
      unreadable: 'deploy.lock has no info.json: its holder is between taking the lock and recording itself, or died in between',
    };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { info: null, unreadable: 'deploy.lock/info.json is not valid JSON' };
  }
  const parsed = lockInfoSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      info: null,
      unreadable: `deploy.lock/info.json is not valid: ${issue ? `${issue.path.join('.') || '(top level)'}: ${issue.message}` : 'unknown'}`,
    };
  }
  const { operator, localHost, pid, startedAt, startedAtIso, release, operation, token, message } = parsed.data;
  return {
    info: {
      operator,
      localHost,
      pid,
      startedAt,
      startedAtIso,
      release,
      operation,
      ...(token === undefined ? {} : { token }),
      ...(message === undefined ? {} : { message }),
    },
  };
}

function judgeStale(
  info: LockInfo | null,
  ageSeconds: number | null,
  options: { staleMinutes?: number | undefined; localHostName: string },
): StaleReason | undefined {
  if (isDeliberateLock(info)) return undefined;
  // Only a holder on this very machine can be checked for life; a pid elsewhere means nothing here.
  if (info !== null && info.localHost === options.localHostName && !processIsAlive(info.pid)) return 'holder process is gone';
  if (options.staleMinutes !== undefined && ageSeconds !== null && ageSeconds > options.staleMinutes * 60) {
    return `older than ${options.staleMinutes} minutes`;
  }
  return undefined;
}

function processIsAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
