import { DeployError } from '../errors.js';
import { appendAudit } from '../host/audit.js';
import { hostLayout } from '../host/layout.js';
import { breakLock, isDeliberateLock, type LockStatus, readLock } from '../host/lock.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';
import { hostIso } from './session.js';

/**
 * `mcp-deploy unlock [--force]`: the lock as it is, and with `force` its removal, recorded in
 * the audit log like any run that changes the host. Without `force` a held lock is left as it is
 * (`keptLockError` says why, and whether --force is safe).
 */
export async function unlock(
  context: Pick<EngineContext, 'target' | 'operator' | 'localHost'>,
  transport: Transport,
  options: { readonly force: boolean },
): Promise<{ readonly status: LockStatus; readonly removed: boolean }> {
  const { target } = context;
  const layout = hostLayout(target.path);
  const status = await readLock(transport, layout, { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost });
  if (!status.held || !options.force) return { status, removed: false };
  await breakLock(transport, layout);
  await appendAudit(transport, layout, {
    at: await hostIso(transport),
    operator: context.operator,
    localHost: context.localHost,
    target: target.name,
    operation: 'unlock',
    from: status.info?.release ?? null,
    to: null,
    result: 'ok',
    steps: [],
    ...(status.info?.message === undefined ? {} : { message: status.info.message }),
  });
  return { status, removed: true };
}

export function keptLockError(status: LockStatus): DeployError {
  return new DeployError('locked', 'Not removed: pass --force to remove it.', {
    hint:
      status.held && isDeliberateLock(status.info)
        ? 'It was taken on purpose with lock acquire: release it with mcp-deploy lock release once that work is done.'
        : status.held && status.stale
          ? 'It looks stale, so --force is safe.'
          : 'Make sure no deploy is still running first.',
  });
}
