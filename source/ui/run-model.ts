import type { RunSummary } from './engine-port.js';
import type { EngineEvent, Operation, ProgressUnit } from '../run/events.js';
import { isRecoveryStep, type StepId } from '../run/step-ids.js';

/**
 * The checklist as data: the engine's events folded into rows. Pure, so recorded event sequences
 * can be replayed in tests, and immutable, so React sees each change as a new value.
 */

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export type StepRow = {
  readonly kind: 'step';
  readonly id: StepId;
  readonly title: string;
  readonly status: StepStatus;
  /** When it started (the event's wall-clock time), for the running row's elapsed time. */
  readonly startedAt: number | null;
  readonly ms?: number;
  readonly detail?: string;
  readonly progress?: { readonly done: number; readonly total: number; readonly unit: ProgressUnit; readonly detail?: string };
  readonly message?: string;
  readonly hint?: string;
  readonly details?: readonly string[];
  readonly reason?: string;
};

export type RollbackRow = {
  readonly kind: 'rollback';
  readonly phase: 'start' | 'done' | 'failed';
  readonly reason: string;
  readonly serving: string | null;
};

export type Row = StepRow | RollbackRow;

export type Notice = { readonly level: 'info' | 'warn'; readonly message: string };

export type RunModel = {
  readonly operation: Operation | null;
  /** The release this run moves to, once the host has named it (deploy) or it was chosen (rollback). */
  readonly release: string | null;
  readonly rows: readonly Row[];
  readonly notices: readonly Notice[];
  readonly ended: { readonly ok: boolean; readonly ms: number } | null;
};

export const emptyRun: RunModel = { operation: null, release: null, rows: [], notices: [], ended: null };

const keptNotices = 4;

export function reduceRun(model: RunModel, event: EngineEvent): RunModel {
  switch (event.kind) {
    case 'run:start': {
      // The steps the engine declared, shown dim until they start, so the operator sees how far along it is.
      const pending = event.steps.map(({ id, title }): StepRow => ({ kind: 'step', id, title, status: 'pending', startedAt: null }));
      return {
        ...model,
        operation: event.operation,
        release: null,
        ended: null,
        rows: [...model.rows.filter((row) => !isPending(row)), ...pending],
      };
    }
    case 'release': {
      return { ...model, release: event.release };
    }
    case 'audit':
    case 'monitor':
    // A fleet's events: the fleet matrix folds them (ui/fleet-model.ts), host by host.
    case 'host':
    case 'fleet:start':
    case 'fleet:batch':
    case 'fleet:end':
      return model;
    case 'step:start':
      return {
        ...model,
        rows: placeRow(model.rows, { kind: 'step', id: event.step, title: event.title, status: 'running', startedAt: event.at }),
      };
    case 'step:progress':
      return updateStep(model, event.step, (row) => ({
        ...row,
        progress: {
          done: event.done,
          total: event.total,
          unit: event.unit,
          ...(event.detail === undefined ? {} : { detail: event.detail }),
        },
      }));
    case 'step:done':
      return updateStep(model, event.step, (row) => {
        const { progress: _progress, ...rest } = row;
        return { ...rest, status: 'done', ms: event.ms, ...(event.detail === undefined ? {} : { detail: event.detail }) };
      });
    case 'step:skipped': {
      const skipped: StepRow = {
        kind: 'step',
        id: event.step,
        title: event.title,
        status: 'skipped',
        startedAt: null,
        reason: event.reason,
      };
      return lastStepIndex(model.rows, event.step, false) === -1
        ? { ...model, rows: placeRow(model.rows, skipped) }
        : updateStep(model, event.step, (row) => ({ ...row, status: 'skipped', reason: event.reason }));
    }
    case 'step:failed': {
      const failed = updateStep(model, event.step, (row) => {
        const { progress: _progress, ...rest } = row;
        return {
          ...rest,
          status: 'failed',
          ms: event.ms,
          message: event.message,
          ...(event.hint === undefined ? {} : { hint: event.hint }),
          ...(event.details === undefined ? {} : { details: event.details }),
        };
      });
      // After a failure the planned steps will not run, except the audit-and-unlock at the end.
      return isRecoveryStep(event.step) ? failed : { ...failed, rows: failed.rows.filter((row) => !isPending(row) || row.id === 'audit') };
    }
    case 'rollback': {
      if (event.phase === 'start') {
        const row: RollbackRow = { kind: 'rollback', phase: 'start', reason: event.reason, serving: event.serving };
        return {
          ...model,
          rows: placeRow(
            model.rows.filter((existing) => !isPending(existing) || existing.id === 'audit'),
            row,
          ),
        };
      }
      const index = findLastIndex(model.rows, (row) => row.kind === 'rollback');
      const row: RollbackRow = { kind: 'rollback', phase: event.phase, reason: event.reason, serving: event.serving };
      if (index === -1) return { ...model, rows: placeRow(model.rows, row) };
      const rows = [...model.rows];
      rows[index] = row;
      return { ...model, rows };
    }
    case 'contract': {
      // The plan showed the diff before the run; during it, its summary is enough.
      const level: 'info' | 'warn' = event.changes.some((change) => change.severity !== 'safe') ? 'warn' : 'info';
      return { ...model, notices: [...model.notices, { level, message: event.summary }].slice(-keptNotices) };
    }
    case 'notice':
      return { ...model, notices: [...model.notices, { level: event.level, message: event.message }].slice(-keptNotices) };
    case 'run:end':
      return { ...model, ended: { ok: event.ok, ms: event.ms }, rows: model.rows.filter((row) => !isPending(row)) };
    case 'log':
      return model;
  }
}

function isPending(row: Row): row is StepRow {
  return row.kind === 'step' && row.status === 'pending';
}

/** Real rows go after every real row and before the still-pending ones, replacing a pending row of the same step. */
function placeRow(rows: readonly Row[], row: Row): Row[] {
  const withoutPending = row.kind === 'step' ? rows.filter((existing) => !(isPending(existing) && existing.id === row.id)) : [...rows];
  const firstPending = withoutPending.findIndex(isPending);
  const at = firstPending === -1 ? withoutPending.length : firstPending;
  return [...withoutPending.slice(0, at), row, ...withoutPending.slice(at)];
}

function lastStepIndex(rows: readonly Row[], id: StepId, includePending: boolean): number {
  return findLastIndex(rows, (row) => row.kind === 'step' && row.id === id && (includePending || row.status !== 'pending'));
}

function updateStep(model: RunModel, id: StepId, change: (row: StepRow) => StepRow): RunModel {
  const index = lastStepIndex(model.rows, id, false);
  if (index === -1) {
    // An update for a step we never saw start (events can be replayed from the middle): show it anyway.
    const placed = placeRow(model.rows, { kind: 'step', id, title: id, status: 'running', startedAt: null });
    return updateStep({ ...model, rows: placed }, id, change);
  }
  const rows = [...model.rows];
  rows[index] = change(rows[index] as StepRow);
  return { ...model, rows };
}

function findLastIndex<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index -= 1) if (test(items[index]!)) return index;
  return -1;
}

export function isRunning(model: RunModel): boolean {
  return model.rows.some((row) => row.kind === 'step' && row.status === 'running');
}

export type Outcome = {
  readonly tone: 'ok' | 'fail' | 'warn';
  readonly text: string;
  /** "Serving now: …", the app's last line whenever the run reached the host. */
  readonly serving?: string;
  readonly hint?: string;
};

/**
 * The result: in plain words, what serves traffic now. A run that stopped before it reached
 * the host says that nothing changed rather than guessing what serves.
 */
export function describeOutcome(summary: RunSummary): Outcome {
  const verb = summary.operation === 'deploy' ? 'Deploy' : 'Rollback';
  const serving = summary.serving ? `Serving now: ${summary.serving}.` : `Nothing is serving on ${summary.target}.`;
  if (summary.ok) return { tone: 'ok', text: `✔ ${summary.operation === 'deploy' ? 'Deployed' : 'Rolled back'}.`, serving };
  const step = summary.error?.step ?? 'an unknown step';
  const reachedHost = summary.steps.some((record) => record.name === 'connect' && record.status === 'done');
  if (!reachedHost) return { tone: 'fail', text: `✖ ${verb} stopped at ${step}: nothing was changed on ${summary.target}.` };
  const interrupted = summary.exitCode === 130;
  const what = interrupted ? `${verb} interrupted during ${step}` : `${verb} failed at ${step}`;
  return {
    tone: summary.rolledBack || interrupted ? 'warn' : 'fail',
    text: `✖ ${what}${summary.rolledBack ? '; rolled back' : ''}.`,
    serving,
  };
}
