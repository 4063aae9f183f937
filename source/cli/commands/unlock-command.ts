import { keptLockError, unlock } from '../../engine/unlock.js';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { onEveryHost } from './fleet-commands.js';
import { describeHolder } from '../../host/lock.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

/** `mcp-deploy unlock [--force]`: shows the lock, and removes it with --force. */
export async function unlockCommand(options: GlobalOptions, output: Output): Promise<number> {
  const hosts = fleetHostsFor(options);
  if (hosts !== null) return onEveryHost(hosts, options, output, 'unlock', unlockCommand);
  return withHost(options, output, async (context, transport) => {
    const { status, removed } = await unlock(context, transport, { force: options.force ?? false });
    if (output.json) {
      if (status.held && !removed) throw keptLockError(status);
      output.document({ target: context.target.name, lock: status, removed });
      return 0;
    }
    if (!status.held) {
      output.line('The lock is free; nothing to do.');
      return 0;
    }
    output.line(`Lock held by ${describeHolder(status)}${status.stale ? ` (stale: ${status.staleReason})` : ''}.`);
    if (!removed) throw keptLockError(status);
    output.line('Lock removed; recorded in audit.log.');
    return 0;
  });
}
