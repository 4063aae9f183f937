import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { describeHolder, refreshLock, type HeldLock, type LockStatus } from '../host/lock.js';
import { heartbeatIntervalMs, type StaleOptions } from '../host/lock-status.js';
import type { Transport } from '../remote/transport.js';
import type { StepId } from '../run/step-ids.js';
import { lockGuardedTransport } from './lock-guarded-transport.js';

/**
 * Keeps a run's hold on the host lock honest. While the run lasts it refreshes the lock's
 * heartbeat, so others can tell a live holder from a dead one by more than a pid; and before
 * every step that changes the host (run/step-ids.ts hostChangingSteps) the step runner calls
 * `guard`, and the step's first commands check on the host, just before they run, that the lock
 * still carries this run's token.
 *
 * A lock can be lost: `unlock --force`, or `--force` on a holder judged stale. Its new holder
 * then owns the host, and this run must not touch it again: not to go on, and not to undo what
 * it did (switching nginx back or stopping "its" colour would hit the new holder's servers).
 */
export type LockKeeper = {
  /**
   * Throws DeployError('locked') once the lock is known to be no longer this run's; otherwise
   * arms the check that the step's first commands carry (they throw it when the lock is lost).
   */
  guard(step: StepId): Promise<void>;
  /**
   * After a failure, before anything is undone: the lock-lost error when the lock is no longer
   * this run's (checked on the host), else null. Null too when the host cannot be asked.
   */
  confirm(): Promise<DeployError | null>;
  /** What holds the lock now, once it was found lost; null while it is this run's. */
  lost(): LockStatus | null;
  /** Ends the heartbeat. */
  stop(): void;
  /**
   * The transport the run's steps use: `guard` arms the check, and the step's first commands
   * carry it to the host (lock-guarded-transport.ts), so it costs no round trip of its own.
   */
  readonly transport: Transport;
};

export function keepLock(
  transport: Transport,
  layout: HostLayout,
  held: HeldLock,
  options: { readonly target: string; readonly stale: StaleOptions; readonly warn: (message: string) => void },
): LockKeeper {
  let lost: LockStatus | null = null;
  let beating = false;
  /** `tell`: say so at once when the lock is found lost (the heartbeat; the guard throws instead). */
  const check = async (tell: boolean): Promise<void> => {
    const answer = await refreshLock(transport, layout, held.token, options.stale);
    if (answer.ours || lost !== null) return;
    lost = answer.now;
    if (tell) options.warn(`${lostMessage(options.target, answer.now)} This run stops before it changes the host again.`);
  };
  const timer = setInterval(() => {
    // One heartbeat at a time; a slow host must not pile them up.
    if (beating) return;
    beating = true;
    check(true)
      .catch(() => {
        // A connection problem is reported by the run's own next command.
      })
      .finally(() => {
        beating = false;
      });
  }, heartbeatIntervalMs);
  timer.unref();

  const stopped = (step: StepId, now: LockStatus) =>
    lostError(options.target, now, `Stopped before the ${step} step: nothing more was changed or undone.`);
  // The host-changing step whose lock check is still to be made.
  let armed: StepId | null = null;
  const guarded = lockGuardedTransport(transport, layout, held.token, options.stale, {
    armed: () => armed,
    knownLost: (step) => (lost === null ? null : stopped(step, lost)),
    confirmed: (step) => {
      if (armed === step) armed = null;
    },
    found: (step, now) => {
      lost ??= now;
      return stopped(step, lost);
    },
  });

  return {
    transport: guarded,
    guard: async (step) => {
      if (lost !== null) throw stopped(step, lost);
      // Checked by the first commands the step sends (see `transport`), before they run.
      armed = step;
    },
    confirm: async () => {
      if (lost === null) await check(false).catch(() => {});
      return lost === null
        ? null
        : lostError(options.target, lost, 'Nothing this run did was undone: the host is not its to change any more.');
    },
    lost: () => lost,
    stop: () => clearInterval(timer),
  };
}

function lostError(target: string, now: LockStatus, what: string): DeployError {
  return new DeployError('locked', `${lostMessage(target, now)} ${what}`, {
    hint: "The host belongs to the lock's new holder now. See what serves with: mcp-deploy status; deploy again once the lock is free.",
  });
}

function lostMessage(target: string, now: LockStatus): string {
  const holder = now.held ? `it is held now by ${describeHolder(now)}` : 'nobody holds it now';
  return `The lock on ${target} is no longer this run's: it was broken (unlock --force, or --force on a lock judged stale) and ${holder}.`;
}
