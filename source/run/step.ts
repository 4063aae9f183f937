import { DeployError, describeError } from '../errors.js';
import type { EventBus, ProgressUnit } from './events.js';
import { hostChangingSteps, type StepId } from './step-ids.js';

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
 * Test-only fault hook: called when each step starts and ends, so a test can kill or break the
 * run at a named point. Never set outside tests.
 */
export type Checkpoint = (step: StepId, phase: 'start' | 'end') => Promise<void>;

/** What runs steps: where they report, what stops them, and the test hook at their boundaries. */
export type StepRunner = {
  readonly bus: EventBus;
  /** Aborted on Ctrl-C / SIGTERM: an interruptible step stops at its next boundary. */
  readonly signal?: AbortSignal;
  readonly checkpoint?: Checkpoint;
  /**
   * Called at the start of every step that changes the host (hostChangingSteps), after the test
   * checkpoint: throws when this run may no longer change the host (its lock was taken). The
   * session provides it; a host-changing step run without one is a bug.
   */
  readonly guard?: (step: StepId) => Promise<void>;
};

export type StepOptions = {
  /**
   * Steps that must finish once begun (recording the active release, draining, the audit and
   * unlock, undoing a cutover) do not check the abort signal at their boundaries. Every other
   * step stops at its start and at its end when a stop was asked for.
   */
  readonly uninterruptible?: boolean;
};

/**
 * Runs one step and reports it: start, then done with its duration, skipped with a reason, or
 * failed with the message. The boundaries are handled here, for every step alike: the abort
 * check (unless the step is uninterruptible) and the test checkpoint, at the start and the end,
 * and before a step that changes the host, the lock guard.
 * The error is re-thrown so the caller decides what failure means.
 */
export async function runStep<T>(
  runner: StepRunner,
  step: StepId,
  title: string,
  body: (context: StepContext) => Promise<T>,
  options: StepOptions = {},
): Promise<T | undefined> {
  const { bus, signal, checkpoint, guard } = runner;
  const boundary = async (phase: 'start' | 'end') => {
    if (!options.uninterruptible) signal?.throwIfAborted();
    await checkpoint?.(step, phase);
    if (phase === 'start' && hostChangingSteps.has(step)) {
      if (guard === undefined) throw new Error(`the ${step} step changes the host but runs without the session's lock guard`);
      await guard(step);
    }
  };
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
    await boundary('start');
    const value = await body(context);
    await boundary('end');
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
export function skipStep(bus: EventBus, step: StepId, title: string, reason: string): void {
  bus.emit({ kind: 'step:skipped', step, title, reason });
}
