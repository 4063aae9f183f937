import { edgeHeaders } from './keys-host.js';
import { describeError } from '../errors.js';
import { publicUrlProblem } from '../health/public-answer.js';
import { markFailed } from '../host/releases.js';
import { runStep } from '../run/step.js';
import type { CutoverProgress } from './cutover-progress.js';
import { applyRouting } from './nginx.js';
import { switchedBack as switchedBackTo } from './nginx-routing.js';
import type { Failure } from './operation.js';
import { retireAndStop } from './retire.js';
import type { Session } from './session.js';

/**
 * Undoes a cutover that failed before it was finalized: traffic goes back to the old colour if
 * it had moved (with the sessions it issued still pinned to it; the failed colour's sessions are
 * retired at once), the new colour is stopped, and the release is marked failed (kept for its
 * logs). Returns what serves traffic afterwards, in words.
 */
export async function recoverCutover(
  session: Session,
  release: string,
  progress: CutoverProgress,
  failure: Failure,
  options: { markFailed: boolean } = { markFailed: true },
): Promise<string | null> {
  const { context, transport, layout, active } = session;
  const { bus, target, config } = context;
  const serving = active ? `release ${active.release} on ${active.colour} (port ${active.port})` : null;
  bus.emit({ kind: 'rollback', phase: 'start', reason: `${failure.step} failed: ${failure.message}`, serving });
  const problems: string[] = [];
  let routing = progress.routing;
  let switchedBack = false;
  if (progress.switched && active !== null) {
    await runStep(
      context,
      'rollback.switch',
      `Switch nginx back to ${active.colour} (${active.port})`,
      async (step) => {
        const back = switchedBackTo(progress.routingBefore, active.colour);
        await applyRouting(transport, target, config.app, back, step.log);
        routing = back;
        switchedBack = true;
      },
      { uninterruptible: true },
    ).catch((error: unknown) => problems.push(`switching back failed: ${describeError(error)}`));
  }
  if (progress.started) {
    await runStep(
      context,
      'rollback.stop',
      `Stop ${progress.colour} (${progress.port})`,
      async (step) => {
        // Traffic reached the new colour: like the drain of a cutover, let nginx's old workers
        // finish with it before stopping it. Without this, requests already on those workers
        // (and on their kept-alive client connections) got 502 (found by the fault matrix:
        // SIGINT right after the switch). A colour nginx still sends traffic to is not stopped.
        await retireAndStop(session, {
          colour: progress.colour,
          port: progress.port,
          release,
          routing,
          step,
          drain: switchedBack ? 'full' : 'none',
        });
      },
      { uninterruptible: true },
    ).catch((error: unknown) => problems.push(`stopping ${progress.colour} failed: ${describeError(error)}`));
  }
  // A rollback target that fails again keeps its good name: it served before, the fault may be elsewhere.
  if (options.markFailed)
    await markFailed(transport, layout, release, failure).catch((error: unknown) =>
      problems.push(`marking ${release} failed: ${describeError(error)}`),
    );
  // The old colour runs, but with nginx down (say) nothing answers publicly: say so (found by the host-fault tests).
  const unanswered =
    serving === null
      ? null
      : await publicUrlProblem(target.publicUrl, config.health.http, {
          headers: await edgeHeaders(transport, target),
        });
  const servingNow = serving === null || unanswered === null ? serving : `${serving}, but ${unanswered}`;
  if (problems.length > 0) {
    bus.emit({ kind: 'rollback', phase: 'failed', reason: problems.join('; '), serving: servingNow });
  } else {
    bus.emit({ kind: 'rollback', phase: 'done', reason: `${failure.step} failed`, serving: servingNow });
  }
  return servingNow;
}
