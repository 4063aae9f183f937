import type { PruneResult } from '../host/prune.js';
import type { EngineContext } from './context.js';
import { pruneSteps } from './declared-steps.js';
import { runOperation, type RunSummary } from './operation.js';
import { openSession } from './session.js';
import { pruneStep } from './steps/prune.js';

export type PruneSummary = RunSummary & {
  /** What was removed; null when the run stopped before the prune step. */
  readonly removed: PruneResult | null;
};

/**
 * `mcp-deploy prune` on its own (as `cap deploy:cleanup`): the prune every deploy ends with,
 * under the lock and audited like any run, for when releases or venvs piled up (a lower
 * keepReleases, failed deploys) without waiting for the next deploy. Traffic is never touched.
 */
export async function pruneRun(context: EngineContext, options: { readonly force?: boolean } = {}): Promise<PruneSummary> {
  let removed: PruneResult | null = null;
  const summary = await runOperation(
    context,
    'prune',
    pruneSteps,
    async (state) => {
      const session = await openSession(context, { operation: 'prune', force: options.force ?? false });
      state.session = session;
      state.serving = session.servingDescription;
      removed = (await pruneStep(session)) ?? null;
    },
    // Nothing to undo: prune sets each release aside before removing it, so a stop leaves only garbage.
    async () => {},
  );
  return { ...summary, removed };
}
