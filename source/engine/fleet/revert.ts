import { DeployError, describeError } from '../../errors.js';
import { recoverCutover } from '../recover-cutover.js';
import { listReleases } from '../../host/releases.js';
import type { OperationState } from '../operation.js';
import { cutOverTo } from '../rollback.js';
import type { Session } from '../session.js';

/**
 * Takes a host that switched back to what it served before the fleet run, because another host
 * failed: the same cutover as a rollback, in the run's own session (the lock is still held), on a
 * signal of its own (an operator's Ctrl-C is what may have asked for it). Ends the host's run as
 * rolled back: it throws, with the state saying what serves now.
 */
export async function revertHost(session: Session, state: OperationState): Promise<never> {
  const { transport, layout } = session;
  const release = state.release;
  const progress = state.progress;
  const previous = state.previous;
  if (release === null || progress === null || previous === null) {
    throw new DeployError('deploy', 'The fleet went back, but this host served nothing before this run: it keeps the new release.');
  }
  const info = (await listReleases(transport, layout)).find((candidate) => candidate.id === previous);
  if (info === undefined) {
    throw new DeployError('deploy', `The fleet went back, but ${previous} is no longer on this host: it keeps ${release}.`);
  }
  const view: Session = {
    ...session,
    active: { colour: progress.colour, port: progress.port, release },
    context: { ...session.context, signal: new AbortController().signal },
  };
  const back: OperationState = { ...state, progress: null, serving: null };
  try {
    await cutOverTo(view, info, back);
  } catch (error) {
    // A way back that failed half-way is undone like any cutover: the new release keeps serving.
    const unfinished = back.progress;
    if (unfinished !== null && !unfinished.finalized) {
      state.serving = await recoverCutover(
        view,
        previous,
        unfinished,
        { step: 'start', message: describeError(error) },
        { markFailed: false },
      );
    }
    throw error;
  }
  state.serving = back.serving;
  // What serves is the previous release: nothing of this run's cutover is left to undo.
  state.progress = null;
  state.rolledBack = true;
  throw new DeployError('deploy', `Went back to ${previous} with the fleet: another host failed.`, {
    hint: 'The fleet serves one release again; see the failing host above, fix it, and deploy again.',
  });
}
