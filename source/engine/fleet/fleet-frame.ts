import type { DeclaredStep } from '../../run/step-ids.js';
import type { FleetOperation } from '../../run/events.js';
import type { EngineContext } from '../context.js';
import type { FleetSummary } from './fleet-summary.js';

/**
 * The fleet run as one run on the fleet's bus: run:start (with the local steps), release,
 * rollback and run:end, so what listens for runs (notifications, the plain reporter's first and
 * last lines) tells of the fleet once, while each host's own run arrives tagged with the host.
 */
export function announceFleetRun(base: EngineContext, operation: FleetOperation, steps: readonly DeclaredStep[]): () => number {
  const started = performance.now();
  base.bus.emit({ kind: 'run:start', operation, target: base.target.name, at: Date.now(), steps });
  return () => Math.round(performance.now() - started);
}

export function endFleetRun(base: EngineContext, summary: FleetSummary, elapsed: () => number): void {
  const { bus } = base;
  if (summary.outcome === 'rolled-back')
    bus.emit({
      kind: 'rollback',
      phase: 'done',
      reason: summary.error ? `${summary.error.host ?? 'a host'} failed at ${summary.error.step}` : 'a host failed',
      serving: 'the release each host served before, on every host',
    });
  bus.emit({
    kind: 'run:end',
    ok: summary.ok,
    ms: elapsed(),
    release: summary.release,
    rolledBack: summary.outcome === 'rolled-back',
    ...(summary.error
      ? { error: { step: summary.error.step, message: `${summary.error.host ? `${summary.error.host}: ` : ''}${summary.error.message}` } }
      : {}),
  });
}

/** What hooks.local.after is told of a fleet run (MCP_DEPLOY_RESULT and the rest). */
export function fleetHookOutcome(summary: FleetSummary) {
  const result =
    summary.outcome === 'ok'
      ? 'ok'
      : summary.outcome === 'interrupted'
        ? 'interrupted'
        : summary.outcome === 'rolled-back'
          ? 'rolled-back'
          : 'failed';
  return {
    result,
    release: summary.release,
    previous: null,
    serving: summary.ok ? `release ${summary.release} on every host` : null,
    ...(summary.error ? { error: { step: summary.error.step, message: summary.error.message } } : {}),
  } as const;
}
