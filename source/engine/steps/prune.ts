import type { EventBus } from '../events.js';
import { listReleases } from '../../host/releases.js';
import { planPrune, prune } from '../../host/prune.js';
import { readState } from '../../host/state.js';
import type { Session } from '../session.js';
import { runStep } from '../step.js';

/** Step 11: keep `keepReleases` good releases plus the active and previous one; drop unused venvs. */
export async function pruneStep(session: Session, bus: EventBus): Promise<void> {
  const { transport, layout, context } = session;
  await runStep(bus, 'prune', 'Prune old releases', async (step) => {
    const state = await readState(transport, layout);
    const releases = await listReleases(transport, layout);
    const plan = planPrune(releases, {
      keep: context.config.keepReleases,
      active: state?.active?.release ?? null,
      previous: state?.previous ?? null,
    });
    const removed = await prune(transport, layout, plan);
    step.detail(JSON.stringify(removed));
  });
}
