import { listReleases } from '../../host/releases.js';
import { planPrune, type PruneResult, prune, readPruneCandidates } from '../../host/prune.js';
import { readCurrent, readState } from '../../host/state.js';
import type { Session } from '../session.js';
import { runStep } from '../../run/step.js';

/**
 * Step 11, under the lock: keep `keepReleases` good releases plus the active, previous and
 * `current` ones; drop unused venvs and install folders, and abandoned partial uploads.
 */
export async function pruneStep(session: Session): Promise<PruneResult | undefined> {
  const { transport, layout, context } = session;
  return runStep(
    context,
    'prune',
    'Prune old releases',
    async (step) => {
      const [state, current, releases, candidates] = await Promise.all([
        readState(transport, layout),
        readCurrent(transport, layout),
        listReleases(transport, layout),
        readPruneCandidates(transport, layout),
      ]);
      const plan = planPrune(releases, {
        keep: context.config.keepReleases,
        active: state?.active?.release ?? null,
        previous: state?.previous ?? null,
        current: current?.release ?? null,
        garbage: candidates.garbage,
        venvs: candidates.venvs,
        deps: candidates.deps,
      });
      const removed = await prune(transport, layout, plan);
      if (removed.failed.length > 0)
        step.log(`could not remove: ${removed.failed.join(', ')}${removed.error ? ` (${removed.error})` : ''}`);
      const parts = [
        `${removed.releases.length} release(s)`,
        `${removed.venvs.length} venv(s)`,
        ...(removed.deps.length > 0 ? [`${removed.deps.length} install folder(s)`] : []),
        ...(removed.garbage.length > 0 ? [`${removed.garbage.length} leftover(s)`] : []),
      ];
      step.detail(`removed ${parts.join(', ')}; kept ${releases.length - removed.releases.length}`);
      for (const note of plan.notes) step.log(note);
      return removed;
    },
    // After the new release is recorded: a stop now would only leave garbage for the next run.
    { uninterruptible: true },
  );
}
