import { DeployError } from '../errors.js';
import { hostLayout } from '../host/layout.js';
import { breakLockOnRecord, isDeliberateLock, type LockStatus, readLock } from '../host/lock.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';

/**
 * `mcp-deploy unlock [--force]`: the lock as it is, and with `force` its removal (of that very
 * lock, not one taken since), recorded in the audit log with whose lock it was. Without `force` a held lock is left as it is
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
  const broken = await breakLockOnRecord(transport, layout, status, {
    operator: context.operator,
    localHost: context.localHost,
    target: target.name,
  });
  if (broken === null) {
    throw new DeployError('locked', 'The lock changed hands (or went) while it was looked at: not removed.', {
      hint: 'Look again with: mcp-deploy unlock',
    });
  }
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
