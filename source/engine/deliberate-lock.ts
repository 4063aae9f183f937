import { DeployError } from '../errors.js';
import { appendAudit } from '../host/audit.js';
import { hostLayout } from '../host/layout.js';
import { acquireLock, describeHolder, isDeliberateLock, type LockStatus, readLock, releaseLock } from '../host/lock.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';
import { hostIso } from './session.js';

/**
 * `mcp-deploy lock acquire -m REASON` and `lock release`: the deploy lock taken on purpose, so
 * that no deploy, rollback, restart or prune starts while someone works on the host (a database
 * migration, an incident). It is the same `deploy.lock/` every run takes, so every run respects
 * it without knowing about it; its info says `operation: "lock"` and carries the reason, and it is
 * never judged stale (no process holds it). Both ends are recorded in the audit log.
 */

export type LockContext = Pick<EngineContext, 'target' | 'operator' | 'localHost'>;

/** Long enough for a sentence and a ticket link; short enough to keep an audit line whole. */
export const maxLockMessageLength = 500;

export function checkLockMessage(message: string | undefined): string {
  const text = (message ?? '').trim();
  if (text === '') {
    throw new DeployError('usage', 'lock acquire needs a reason: -m "what you are doing".', {
      hint: 'Example: mcp-deploy lock acquire -m "migrating the database, back at 15:00"',
    });
  }
  if (text.length > maxLockMessageLength) {
    throw new DeployError('usage', `The lock's reason is ${text.length} characters long; at most ${maxLockMessageLength} are kept.`);
  }
  return text;
}

/** Takes the lock with a reason; a lock already held fails with DeployError('locked'), naming the holder. */
export async function acquireDeliberateLock(context: LockContext, transport: Transport, reason: string): Promise<LockStatus> {
  const message = checkLockMessage(reason);
  const { target } = context;
  const layout = hostLayout(target.path);
  const held = await acquireLock(transport, layout, {
    target: target.name,
    operator: context.operator,
    localHost: context.localHost,
    pid: process.pid,
    release: null,
    operation: 'lock',
    createRoot: true,
    staleMinutes: target.lockStaleMinutes,
    message,
  });
  await appendAudit(transport, layout, {
    at: held.info.startedAtIso,
    operator: context.operator,
    localHost: context.localHost,
    target: target.name,
    operation: 'lock',
    from: null,
    to: null,
    result: 'ok',
    steps: [],
    message,
  });
  return { held: true, info: held.info, ageSeconds: 0, stale: false };
}

/**
 * Removes a deliberate lock, whoever took it (a team shares the host). A lock a run holds is left
 * alone: that run releases it itself, and `unlock --force` is the tool for one that died. Returns
 * the lock as it was, and whether it was removed (false when it was free).
 */
export async function releaseDeliberateLock(
  context: LockContext,
  transport: Transport,
): Promise<{ readonly status: LockStatus; readonly released: boolean }> {
  const { target } = context;
  const layout = hostLayout(target.path);
  const status = await readLock(transport, layout, { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost });
  if (!status.held) return { status, released: false };
  if (!isDeliberateLock(status.info)) {
    throw new DeployError('locked', `${target.name} is locked by ${describeHolder(status)}, not by lock acquire; left as it is.`, {
      hint: status.stale
        ? 'It looks stale; if no run is going on, remove it with: mcp-deploy unlock --force'
        : 'That run releases the lock when it ends; wait for it (mcp-deploy status shows the lock).',
    });
  }
  // By its token: if someone broke this lock and took another between our read and now, theirs stays.
  const token = status.info?.token;
  const outcome = token === undefined ? 'not-ours' : await releaseLock(transport, layout, token);
  if (outcome === 'not-ours') {
    throw new DeployError('locked', 'The lock changed hands while it was being released; left as it is.', {
      hint: 'See who holds it now: mcp-deploy lock status',
    });
  }
  if (outcome === 'not-held') return { status: { held: false }, released: false };
  await appendAudit(transport, layout, {
    at: await hostIso(transport),
    operator: context.operator,
    localHost: context.localHost,
    target: target.name,
    operation: 'unlock',
    from: null,
    to: null,
    result: 'ok',
    steps: [],
    ...(status.info?.message === undefined ? {} : { message: status.info.message }),
  });
  return { status, released: true };
}

export async function readLockStatus(context: LockContext, transport: Transport): Promise<LockStatus> {
  const { target } = context;
  return readLock(transport, hostLayout(target.path), { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost });
}
