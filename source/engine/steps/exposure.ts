import { DeployError } from '../../errors.js';
import { describeListener, exposed, listenersOn, type Listener } from '../../host/listening-sockets.js';
import { runStep, StepSkipped } from '../../run/step.js';
import type { CutoverProgress } from '../cutover-progress.js';
import type { Session } from '../session.js';

/**
 * Once the new colour answers: what it listens on. Only loopback is expected, nginx being the
 * one door; a server bound to 0.0.0.0 or [::] is reachable past nginx (and past its API keys) by
 * anyone who can reach the host. A warning, or the end of the deploy with
 * `security.loopbackOnly` (before the switch: the old release keeps serving).
 */
export async function exposureStep(
  session: Session,
  progress: CutoverProgress,
  /** The look, when it was started already (alongside the health step's last commands). */
  looked?: Promise<Listener[]>,
): Promise<void> {
  const { context, transport } = session;
  const { config, bus } = context;
  const { colour, port } = progress;
  await runStep(context, 'exposure', `Check what ${colour} listens on`, async (step) => {
    const listeners = await (looked ?? listenersOn(transport, port));
    if (listeners.length === 0) throw new StepSkipped(`nothing listens on ${port} in /proc/net/tcp(6) (another network namespace?)`);
    const open = exposed(listeners);
    if (open.length === 0) {
      step.detail(`loopback only (${listeners.map((listener) => describeListener(listener, port)).join(', ')})`);
      return;
    }
    const where = open.map((listener) => describeListener(listener, port)).join(', ');
    const message = `${colour} listens on ${where}: reachable past nginx by anyone who can reach the host.`;
    const fix = `Bind the server to the HOST environment variable mcp-deploy sets (127.0.0.1), e.g. host=os.environ["HOST"], or {host} in runtime.command.`;
    if (config.security.loopbackOnly) throw new DeployError('deploy', `${message} security.loopbackOnly refuses it.`, { hint: fix });
    bus.emit({ kind: 'notice', level: 'warn', message: `${message} ${fix}` });
    step.detail(`⚠ exposed: ${where} (set security.loopbackOnly to refuse it)`);
  });
}
