import type { FleetHostResult } from '../../run/events.js';
import type { OperationState, RunSummary } from '../operation.js';
import type { Session } from '../session.js';
import type { FleetMember } from './fleet-context.js';
import { arrive, deferred, type Meeting, type semaphore } from './latch.js';
import { revertHost } from './revert.js';

/** After a host's cutover: keep the release, or go back because another host failed. */
export type Verdict = 'keep' | 'revert';

/**
 * A host's run inside the fleet: the points where it waits for the fleet. `middle` is the
 * operation's own (deploy: the one release id; rollback: the one release to go back to).
 */
export type HostRun<In, Out> = {
  readonly member: FleetMember;
  state: OperationState | null;
  readonly locked: Meeting<Session, void>;
  readonly middle: Meeting<In, Out>;
  readonly ready: Meeting<void, void>;
  readonly switched: Meeting<void, Verdict>;
  /** Held from the middle meeting to the ready one: uploads run at most rollout.maxConnections at once. */
  releaseSlot: (() => void) | null;
  reverted: boolean;
};

/** The host's side of the meetings, for the operation's phases. */
export const hostSide = {
  /** Locked: wait until every host is. */
  locked: <In, Out>(run: HostRun<In, Out>, session: Session) => arrive(run.locked, session),
  /** Uploaded and installed: wait for its batch's turn. */
  ready: <In, Out>(run: HostRun<In, Out>) => {
    run.releaseSlot?.();
    return arrive(run.ready, undefined);
  },
  /** Switched and drained: keep it, or go back with the fleet (then the run ends as rolled back). */
  switched: async <In, Out>(run: HostRun<In, Out>, session: Session, state: OperationState) => {
    const verdict = await arrive(run.switched, undefined);
    if (verdict === 'keep') return;
    try {
      await revertHost(session, state);
    } finally {
      // Only a way back that got there counts as rolled back: a failed one left the new release serving.
      run.reverted = state.rolledBack;
    }
  },
};

/** The middle meeting takes an upload slot on its way out: a host uploads only while it holds one. */
export function withSlots<In, Out>(run: HostRun<In, Out>, uploads: ReturnType<typeof semaphore>): HostRun<In, Out> {
  const answer = run.middle.answer;
  const slotted = deferred<Out>();
  answer.promise.then(
    async (value) => {
      run.releaseSlot = await uploads.acquire();
      slotted.resolve(value);
    },
    (error: unknown) => slotted.reject(error),
  );
  return Object.assign(run, { middle: { arrived: run.middle.arrived, answer: { ...answer, promise: slotted.promise } } });
}

export function hostResult(run: HostRun<unknown, unknown>, summary: RunSummary | null, switched: boolean): FleetHostResult {
  const name = run.member.name;
  if (summary === null)
    return {
      host: name,
      ok: false,
      switched: false,
      rolledBack: false,
      serving: null,
      previous: null,
      error: { step: 'connect', message: 'not started: the fleet stopped before this host' },
      exitCode: 1,
    };
  const progress = run.state?.progress ?? null;
  return {
    host: name,
    ok: summary.ok,
    switched: switched || (progress?.switched ?? false),
    rolledBack: summary.rolledBack || run.reverted,
    serving: summary.serving,
    previous: summary.previous,
    ...(summary.error ? { error: { step: summary.error.step, message: summary.error.message } } : {}),
    exitCode: summary.exitCode,
  };
}
