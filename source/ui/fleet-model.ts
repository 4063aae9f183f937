import type { EngineEvent, FleetHostResult, FleetOperation, FleetOutcome } from '../run/events.js';
import type { StepId } from '../run/step-ids.js';
import { emptyRun, reduceRun, type RunModel, type StepRow, type StepStatus } from './run-model.js';

/**
 * The fleet's matrix as data: every host's events folded into that host's checklist (the one-host
 * reducer, unchanged), the steps as columns, each host's last log lines for the log pane. Pure and
 * immutable, like the checklist's model.
 */
export type FleetModel = {
  readonly operation: FleetOperation | null;
  readonly target: string | null;
  readonly runId: string | null;
  readonly hosts: readonly string[];
  readonly batches: readonly (readonly string[])[];
  /** The batch running now (0: the canary), or null before the rollout. */
  readonly batch: number | null;
  readonly runs: Readonly<Record<string, RunModel>>;
  /** The columns: the steps the hosts declared, in their order. */
  readonly steps: readonly StepId[];
  readonly logs: Readonly<Record<string, readonly string[]>>;
  readonly ended: {
    readonly ok: boolean;
    readonly outcome: FleetOutcome;
    readonly release: string | null;
    readonly hosts: readonly FleetHostResult[];
  } | null;
};

export const emptyFleet: FleetModel = {
  operation: null,
  target: null,
  runId: null,
  hosts: [],
  batches: [],
  batch: null,
  runs: {},
  steps: [],
  logs: {},
  ended: null,
};

/** Lines kept per host for the log pane: the pane shows the last few, a bounded ring. */
export const keptLogLines = 200;

export function reduceFleet(model: FleetModel, event: EngineEvent): FleetModel {
  switch (event.kind) {
    case 'fleet:start':
      return {
        ...model,
        operation: event.operation,
        target: event.target,
        runId: event.runId,
        hosts: event.hosts,
        batches: event.batches,
        runs: Object.fromEntries(event.hosts.map((host) => [host, model.runs[host] ?? emptyRun])),
      };
    case 'fleet:batch':
      return { ...model, batch: event.index };
    case 'fleet:end':
      return { ...model, ended: { ok: event.ok, outcome: event.outcome, release: event.release, hosts: event.hosts } };
    case 'host': {
      const { host, event: inner } = event;
      const hosts = model.hosts.includes(host) ? model.hosts : [...model.hosts, host];
      const steps = inner.kind === 'run:start' && model.steps.length === 0 ? inner.steps.map((step) => step.id) : model.steps;
      const logs =
        inner.kind === 'log' ? { ...model.logs, [host]: [...(model.logs[host] ?? []), inner.line].slice(-keptLogLines) } : model.logs;
      return { ...model, hosts, steps, logs, runs: { ...model.runs, [host]: reduceRun(model.runs[host] ?? emptyRun, inner) } };
    }
    default:
      return model;
  }
}

/** A cell of the matrix: the host's latest row for that step (a step a rollback ran again shows its last state). */
export type Cell = { readonly status: StepStatus | 'rollback'; readonly row: StepRow | null };

export function cellOf(model: FleetModel, host: string, step: StepId): Cell {
  const run = model.runs[host];
  const rows = (run?.rows ?? []).filter((row): row is StepRow => row.kind === 'step' && row.id === step);
  const row = rows.at(-1) ?? null;
  return { status: row?.status ?? 'pending', row };
}

/** What a host is doing now, in a few words: the running step, else how it ended. */
export function hostNow(model: FleetModel, host: string): string {
  const run = model.runs[host];
  const result = model.ended?.hosts.find((entry) => entry.host === host);
  if (result)
    return result.ok
      ? `serves ${result.serving ?? '?'}`
      : result.switched
        ? 'went back'
        : result.error
          ? `stopped: ${result.error.step}`
          : 'stopped';
  const rows = (run?.rows ?? []).filter((row): row is StepRow => row.kind === 'step');
  const running = rows.find((row) => row.status === 'running');
  if (running) return running.title;
  const rolling = (run?.rows ?? []).some((row) => row.kind === 'rollback' && row.phase === 'start');
  if (rolling) return 'rolling back';
  const failed = rows.find((row) => row.status === 'failed');
  if (failed) return `✖ ${failed.title}`;
  const done = rows.filter((row) => row.status === 'done').length;
  return done === 0 ? 'waiting' : `waiting (${done} steps done)`;
}
