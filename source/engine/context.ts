import type { Config, Target } from '../config/load.js';
import type { Transport } from '../remote/transport.js';
import type { EventBus } from '../run/events.js';
import type { Checkpoint } from '../run/step.js';
import type { StepId } from '../run/step-ids.js';

/**
 * Everything an engine operation needs, handed in by the CLI (or a test). It is also what runs
 * the steps (a StepRunner): the bus they report to, the signal that stops them, the test hook.
 */
export type EngineContext = {
  readonly config: Config;
  readonly target: Target;
  readonly bus: EventBus;
  /** Who is deploying, for the lock and the audit log. */
  readonly operator: string;
  /** This machine's name, for the lock (a stale lock from this machine can be detected by pid). */
  readonly localHost: string;
  /** Opens the one connection of this run (ssh2 or local). */
  readonly connect: () => Promise<Transport>;
  /** Aborted on Ctrl-C / SIGTERM: the engine stops at the next safe point and rolls back. */
  readonly signal: AbortSignal;
  /** Test-only fault hook at every step's start and end (see run/step.ts); never set outside tests. */
  readonly checkpoint?: Checkpoint;
  /** The lock guard of host-changing steps (run/step.ts): set on the session's context, never by the CLI. */
  readonly guard?: (step: StepId) => Promise<void>;
};

export type StepRecord = { readonly name: StepId; readonly status: 'done' | 'failed' | 'skipped'; readonly ms: number };

/** Collects each step's outcome from the bus, for the JSON summary and the audit log. */
export function recordSteps(bus: EventBus): { readonly steps: StepRecord[]; stop: () => void } {
  const steps: StepRecord[] = [];
  const stop = bus.on((event) => {
    if (event.kind === 'step:done') steps.push({ name: event.step, status: 'done', ms: event.ms });
    else if (event.kind === 'step:failed') steps.push({ name: event.step, status: 'failed', ms: event.ms });
    else if (event.kind === 'step:skipped') steps.push({ name: event.step, status: 'skipped', ms: 0 });
  });
  return { steps, stop };
}
