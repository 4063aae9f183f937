import { DeployError, describeError } from '../errors.js';
import type { EventBus, ProgressUnit } from './events.js';

/** Thrown inside a step to mark it skipped, with the reason the operator sees. */
export class StepSkipped extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'StepSkipped';
  }
}

export type StepContext = {
  progress(done: number, total: number, unit: ProgressUnit, detail?: string): void;
  log(line: string): void;
  /** A short result shown after the step's ✔ ("3 files, 12.4 kB"). */
  detail(text: string): void;
};

/** Failure details a step wants shown under its ✖ line (file:line findings, log tail). */
export class StepFailure extends DeployError {
  readonly details: readonly string[];
  constructor(message: string, details: readonly string[] = [], options: { hint?: string; cause?: unknown } = {}) {
    super('deploy', message, options);
    this.details = details;
  }
}

/**
 * Runs one step and reports it: start, then done with its duration, skipped with a reason, or
 * failed with the message. The error is re-thrown so the caller decides what failure means.
 */
export async function runStep<T>(
  bus: EventBus,
  step: string,
  title: string,
  body: (context: StepContext) => Promise<T>,
): Promise<T | undefined> {
  const started = performance.now();
  let detail: string | undefined;
  bus.emit({ kind: 'step:start', step, title, at: Date.now() });
  const context: StepContext = {
    progress: (done, total, unit, detail) =>
      bus.emit({ kind: 'step:progress', step, done, total, unit, ...(detail === undefined ? {} : { detail }) }),
    log: (line) => bus.emit({ kind: 'log', source: 'engine', line, at: Date.now() }),
    detail: (text) => {
      detail = text;
    },
  };
  try {
    const value = await body(context);
    bus.emit({
      kind: 'step:done',
      step,
      ms: Math.round(performance.now() - started),
      ...(detail === undefined ? {} : { detail }),
    });
    return value;
  } catch (error) {
    if (error instanceof StepSkipped) {
      bus.emit({ kind: 'step:skipped', step, title, reason: error.reason });
      return undefined;
    }
    bus.emit({
      kind: 'step:failed',
      step,
      ms: Math.round(performance.now() - started),
      message: describeError(error),
      ...(error instanceof DeployError && error.hint ? { hint: error.hint } : {}),
      ...(error instanceof StepFailure && error.details.length > 0 ? { details: error.details } : {}),
    });
    throw error;
  }
}

/** Reports a step that will not run, without running anything. */
export function skipStep(bus: EventBus, step: string, title: string, reason: string): void {
  bus.emit({ kind: 'step:skipped', step, title, reason });
}
