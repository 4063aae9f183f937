import { acquireDeliberateLock, checkLockMessage, readLockStatus, releaseDeliberateLock } from '../../engine/deliberate-lock.js';
import { describeHolder, type LockStatus } from '../../host/lock.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

/** `mcp-deploy lock acquire -m REASON`: no deploy, rollback, restart or prune starts until `lock release`. */
export async function lockAcquireCommand(options: GlobalOptions & { readonly message?: string }, output: Output): Promise<number> {
  const message = checkLockMessage(options.message);
  return withHost(options, output, async (context, transport) => {
    const lock = await acquireDeliberateLock(context, transport, message);
    if (output.json) output.document({ target: context.target.name, acquired: true, lock });
    else {
      output.line(`${output.paint.green('✔')} Locked ${context.target.name} (${transport.label}): ${JSON.stringify(message)}.`);
      output.line('Deploys, rollbacks, restarts and prunes are refused until: mcp-deploy lock release');
    }
    return 0;
  });
}

/** `mcp-deploy lock release`: removes a lock taken with `lock acquire` (never a running deploy's). */
export async function lockReleaseCommand(options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const { status, released } = await releaseDeliberateLock(context, transport);
    if (output.json) output.document({ target: context.target.name, released, lock: status });
    else if (!released) output.line(`The lock on ${context.target.name} is free; nothing to release.`);
    else output.line(`${output.paint.green('✔')} Released the lock on ${context.target.name}${held(status)}.`);
    return 0;
  });
}

/** `mcp-deploy lock status`: who holds the lock, since when, for what; exit 0 either way. */
export async function lockStatusCommand(options: GlobalOptions, output: Output): Promise<number> {
  return withHost(options, output, async (context, transport) => {
    const lock = await readLockStatus(context, transport);
    if (output.json) output.document({ target: context.target.name, lock });
    else if (!lock.held) output.line(`lock: free (${context.target.name})`);
    else {
      const stale = lock.stale ? ` — stale (${lock.staleReason}); break it with: mcp-deploy unlock --force` : '';
      output.line(output.paint.yellow(`lock: held by ${describeHolder(lock)}${stale}`));
    }
    return 0;
  });
}

function held(status: LockStatus): string {
  return status.held ? ` (held by ${describeHolder(status)})` : '';
}
