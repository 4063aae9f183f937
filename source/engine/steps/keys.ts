import { runStep } from '../../run/step.js';
import { waitForKeyChange } from '../keys-edge-check.js';
import { readHostKeys, rememberEdgeHeaders, settleKeys, withKeysLock, writeHostKeys } from '../keys-host.js';
import type { Session } from '../session.js';

/**
 * Before the switch, when nginx asks for API keys: the keys whose overlap is over are dropped
 * (nginx reloads without them), and mcp-deploy's own probe key is made when there is none, so
 * the include the switch writes reads a keys file that exists, and verify can get through.
 */
export async function keysStep(session: Session): Promise<void> {
  const { context, transport } = session;
  const { config, target } = context;
  if (target.nginx.auth === null) return;
  await runStep(context, 'keys', 'Settle the API keys', async (step) => {
    const { keys, dropped } = await withKeysLock(transport, target, async () => {
      const current = await readHostKeys(transport, target);
      const settled = settleKeys(current);
      if (settled.changed && (await writeHostKeys(transport, target, config.app, settled.keys, current.text, step.log)) === 'loaded') {
        // A new probe key must be accepted before verify sends it (keys-edge-check.ts says why).
        await waitForKeyChange(target.publicUrl, config.health.mcp?.path ?? '/mcp', current.keys, settled.keys);
      }
      return settled;
    });
    rememberEdgeHeaders(transport, keys);
    const clients = keys.filter((key) => key.kind === 'client').length;
    step.detail(
      `${clients} client key(s)${dropped.length > 0 ? `; dropped ${dropped.map((key) => key.id).join(', ')} (overlap over)` : ''}`,
    );
  });
}
