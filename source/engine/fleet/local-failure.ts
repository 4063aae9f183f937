import { describeError, isDeployError } from '../../errors.js';
import type { FleetOperation } from '../../run/events.js';
import type { StepId } from '../../run/step-ids.js';
import { planBatches } from './batches.js';
import type { FleetContext } from './fleet-context.js';
import type { FleetSummary } from './fleet-summary.js';

/** A fleet run that failed on this machine (validation, the build, a local hook) before any host was touched. */
export function localFailure(fleet: FleetContext, operation: FleetOperation, error: unknown, step: StepId = 'prepare'): FleetSummary {
  const { base, members, rollout } = fleet;
  const aborted = base.signal.aborted;
  const hint = isDeployError(error) ? error.hint : undefined;
  const message = describeError(error);
  const hosts = members.map((member) => ({
    host: member.name,
    ok: false,
    switched: false,
    rolledBack: false,
    serving: null,
    previous: null,
    error: { step: 'prepare' as const, message: 'not started: the run failed on this machine' },
    exitCode: 1,
  }));
  base.bus.emit({ kind: 'fleet:end', ok: false, outcome: aborted ? 'interrupted' : 'stopped', release: null, hosts });
  return {
    ok: false,
    operation,
    target: base.target.name,
    runId: '',
    release: null,
    outcome: aborted ? 'interrupted' : 'stopped',
    batches: planBatches(
      members.map((member) => member.name),
      rollout,
    ),
    hosts,
    runs: [],
    error: { host: null, step, message, ...(hint ? { hint } : {}) },
    exitCode: aborted ? 130 : isDeployError(error) ? error.exitCode : 1,
  };
}
