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
    if (removed.failed.length > 0) step.log(`could not remove: ${removed.failed.join(', ')}${removed.error ? ` (${removed.error})` : ''}`);
    const parts = [
      `${removed.releases.length} release(s)`,
      `${removed.venvs.length} venv(s)`,
      ...(removed.garbage.length > 0 ? [`${removed.garbage.length} partial upload(s)`] : []),
    ];
    step.detail(`removed ${parts.join(', ')}; kept ${releases.length - removed.releases.length}`);
  });
}
