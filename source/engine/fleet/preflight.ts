import { DeployError } from '../../errors.js';
import { runStep } from '../../run/step.js';
import { otherColour, portOf } from '../colours.js';
import { portInUse } from '../port-check.js';
import type { Session } from '../session.js';

/** Below this much free space under the deploy root (beyond the release itself) a host is refused. */
const diskMarginBytes = 64 * 1024 * 1024;

/**
 * A fleet host's checks once it is locked, before anything is sent anywhere: room for the release
 * under the deploy root, and the idle colour's port free (or held by our own leftover server,
 * which the cutover retires). A host that fails stops the whole fleet with nothing changed.
 */
export async function preflightStep(session: Session, needBytes: number): Promise<void> {
  const { context, transport, layout, supervisor, active } = session;
  const { target, config } = context;
  await runStep(context, 'preflight', 'Check disk and ports', async (step) => {
    const df = await transport.run(['df', '-Pk', layout.root], { timeoutMs: 15_000 });
    const availableKiB = Number(df.code === 0 ? df.stdout.trim().split('\n').pop()?.trim().split(/\s+/)[3] : Number.NaN);
    if (Number.isFinite(availableKiB) && availableKiB * 1024 < needBytes + diskMarginBytes) {
      throw new DeployError(
        'host-state',
        `${transport.label}: only ${Math.floor(availableKiB / 1024)} MiB free under ${layout.root}; the release needs ${Math.ceil(needBytes / 1048576)} MiB and ${diskMarginBytes / 1048576} MiB to spare.`,
        { hint: 'Free space on that host (mcp-deploy prune --host NAME; shared/logs), then deploy again.' },
      );
    }
    const idle = active === null ? 'blue' : otherColour(active.colour);
    const port = portOf(target, idle);
    if (!(await supervisor.isRunning(idle)) && (await portInUse(transport, config.runtime.python, port))) {
      throw new DeployError('deploy', `Port ${port} (${idle}) on ${transport.label} is already in use by another process.`, {
        hint: `Find it with: ss -ltnp 'sport = :${port}' on the host, stop it or change the host's ports.${idle}.`,
      });
    }
    step.detail(
      `${Number.isFinite(availableKiB) ? `${Math.floor(availableKiB / 1024)} MiB free` : 'free space unknown'}; port ${port} free`,
    );
  });
}
