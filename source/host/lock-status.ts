import { readFileSync, readlinkSync } from 'node:fs';
import { z } from 'zod';
import { DeployError } from '../errors.js';
import { op, arg, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { formatAge } from '../run/format.js';
import { mtimeShellFunction } from './host-clock.js';
import type { HostLayout } from './layout.js';

/**
 * Reading the deploy lock: who holds it, since when, and whether its holder is still there.
 * (Taking, refreshing and giving it back are in lock.ts.)
 *
 * A holder is judged gone by more than a pid. A pid means something only on the holder's own
 * machine and in its own PID namespace: a reader in a container (or `unshare --pid`) with the same
 * hostname cannot see the holder's process and once called a live holder "gone". So the holder
 * records its machine (boot id and PID namespace), and the pid is checked only from that very
 * machine. Wherever the reader is, the holder's heartbeat (`deploy.lock/heartbeat`, touched every
 * few seconds by the holder) tells the rest: a heartbeat that stopped means the holder did.
 */

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
  /** The holder's boot id and PID namespace: where its pid means something. */
  readonly machine?: string;
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
  machine: z.string().optional(),
  message: z.string().optional(),
});

/** How often a holder refreshes its heartbeat, and after how long without one it counts as gone. */
export const heartbeatIntervalMs = 10_000;
export const heartbeatStaleSeconds = 60;

export type StaleReason =
  | 'holder process is gone'
  | `no heartbeat for ${number} s`
  | `older than ${number} minutes`
  | 'not a lock directory';

export type LockStatus =
  | { readonly held: false }
  | {
      readonly held: true;
      /** Null when the lock directory has no readable info.json; `unreadable` says why. */
      readonly info: LockInfo | null;
      readonly unreadable?: string;
      /** By the host's clock; from the directory's mtime when there is no info. Null if unknown. */
      readonly ageSeconds: number | null;
      /** Since the holder last refreshed its heartbeat (host clock); null for a holder that keeps none. */
      readonly heartbeatAgeSeconds?: number | null;
      readonly stale: boolean;
      readonly staleReason?: StaleReason;
    };

export type StaleOptions = {
  readonly staleMinutes?: number | undefined;
  readonly localHostName: string;
  /** This machine's identity (localMachine()); the default reads it. */
  readonly machine?: string | undefined;
};

/** Whether the lock is held, by whom, and whether it looks abandoned. One remote command. */
export async function readLock(transport: Transport, layout: HostLayout, options: StaleOptions): Promise<LockStatus> {
  const text = script(op(mtimeShellFunction), op(';'), ...heldReport(layout), op("printf 'free\\n'"));
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code !== 0) {
    throw new DeployError('host-state', `Could not read the lock on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`);
  }
  return parseHeldReport(result.stdout, options);
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
  const beat =
    status.heartbeatAgeSeconds === undefined || status.heartbeatAgeSeconds === null
      ? ''
      : `; last heartbeat ${formatAge(status.heartbeatAgeSeconds)} ago`;
  return `${info.operator}@${info.localHost} (pid ${info.pid}) since ${info.startedAtIso} (${age} ago) for ${what}${beat}`;
}

const lockHint = 'Wait for it to finish, or if it is stale, run: mcp-deploy unlock --force';

export function lockedError(target: string, layout: HostLayout, status: Extract<LockStatus, { held: true }>): DeployError {
  const stale = status.stale ? `; it looks stale: ${status.staleReason}` : '';
  return new DeployError('locked', `${target} is locked by ${describeHolder(status)}${stale}.`, {
    hint: isDeliberateLock(status.info)
      ? 'It was taken with mcp-deploy lock acquire; once that work is done: mcp-deploy lock release'
      : `${lockHint} (the lock is ${layout.lockDir}).`,
  });
}

/**
 * A lock taken on purpose (`mcp-deploy lock acquire`): no process holds it, so neither a gone
 * pid, its age, nor a heartbeat it never refreshes ever makes it stale. Only `lock release` or
 * `unlock --force` removes it.
 */
export function isDeliberateLock(info: LockInfo | null): boolean {
  return info?.operation === 'lock';
}

/**
 * Script lines that, when something is where the lock goes, print `held`, the host's time, the
 * lock's mtime, the heartbeat's mtime, then info.json (or `not-a-directory`), and exit 0.
 * Needs mtimeShellFunction.
 */
export function heldReport(layout: HostLayout): ScriptPart[] {
  return [
    op('if [ -d'),
    arg(layout.lockDir),
    op("]; then printf 'held\\n'; date -u +%s; mtime"),
    arg(layout.lockDir),
    op('; mtime'),
    arg(layout.lockHeartbeat),
    op('; cat --'),
    arg(layout.lockInfo),
    op('2>/dev/null; exit 0; fi;'),
    // A file (or a dangling link) where the lock directory goes: no deploy can take the lock.
    op('if [ -e'),
    arg(layout.lockDir),
    op('] || [ -L'),
    arg(layout.lockDir),
    op("]; then printf 'held\\n'; date -u +%s; mtime"),
    arg(layout.lockDir),
    op("; printf -- '-\\nnot-a-directory\\n'; exit 0; fi;"),
  ];
}

export function parseHeldReport(stdout: string, options: StaleOptions): LockStatus {
  const [word, nowText, mtimeText, beatText, ...rest] = stdout.split('\n');
  if (word !== 'held') return { held: false };
  const now = Number(nowText);
  const known = (text: string | undefined) => text !== undefined && /^\d+$/.test(text) && Number.isFinite(now) && nowText !== '';
  const mtime = known(mtimeText) ? Number(mtimeText) : null;
  if (rest[0] === 'not-a-directory') {
    return {
      held: true,
      info: null,
      unreadable: 'deploy.lock is a regular file, not the lock directory: no deploy can take the lock until it is removed',
      ageSeconds: mtime === null ? null : Math.max(0, now - mtime),
      heartbeatAgeSeconds: null,
      stale: true,
      staleReason: 'not a lock directory',
    };
  }
  const { info, unreadable } = parseInfo(rest.join('\n'));
  let ageSeconds: number | null = null;
  if (known(nowText)) {
    if (info !== null) ageSeconds = Math.max(0, now - info.startedAt);
    else if (mtime !== null) ageSeconds = Math.max(0, now - mtime);
  }
  const heartbeatAgeSeconds = known(beatText) ? Math.max(0, now - Number(beatText)) : null;
  const staleReason = judgeStale(info, ageSeconds, heartbeatAgeSeconds, options);
  return {
    held: true,
    info,
    ...(unreadable === undefined ? {} : { unreadable }),
    ageSeconds,
    heartbeatAgeSeconds,
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
  const { operator, localHost, pid, startedAt, startedAtIso, release, operation, token, machine, message } = parsed.data;
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
      ...(machine === undefined ? {} : { machine }),
      ...(message === undefined ? {} : { message }),
    },
  };
}

function judgeStale(
  info: LockInfo | null,
  ageSeconds: number | null,
  heartbeatAgeSeconds: number | null,
  options: StaleOptions,
): StaleReason | undefined {
  if (isDeliberateLock(info)) return undefined;
  // A pid is checked only where it means something: the holder's own machine and PID namespace.
  const here = options.machine ?? localMachine();
  const sameMachine = info !== null && info.localHost === options.localHostName && info.machine !== undefined && info.machine === here;
  if (sameMachine && !processIsAlive(info.pid)) return 'holder process is gone';
  if (heartbeatAgeSeconds !== null && heartbeatAgeSeconds > heartbeatStaleSeconds) return `no heartbeat for ${heartbeatAgeSeconds} s`;
  if (options.staleMinutes !== undefined && ageSeconds !== null && ageSeconds > options.staleMinutes * 60) {
    return `older than ${options.staleMinutes} minutes`;
  }
  return undefined;
}

/**
 * Where a pid of this process means something: the boot (a pid is reused across reboots) and
 * the PID namespace (a container, `unshare --pid`). Undefined where /proc does not say (not Linux):
 * then no holder's pid is ever judged, and only the heartbeat and the age count.
 */
export function localMachine(): string | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const namespace = readlinkSync('/proc/self/ns/pid');
    return boot === '' ? undefined : `${boot}/${namespace}`;
  } catch {
    return undefined;
  }
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
