import type { Config, Target } from '../config/load.js';
import type { Transport } from '../remote/transport.js';
import type { EventBus } from './events.js';

/** Everything an engine operation needs, handed in by the CLI (or a test). */
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
  /**
   * Test-only fault hook: called when each step starts and ends, so a test can kill or break the
   * run at a named point. Never set outside tests.
   */
  readonly checkpoint?: (step: string, phase: 'start' | 'end') => Promise<void>;
};

export type StepRecord = { readonly name: string; readonly status: 'done' | 'failed' | 'skipped'; readonly ms: number };

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
