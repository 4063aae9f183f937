import type { EngineEvent } from '../run/events.js';
import type { Notification, NotifyEvent } from './notification.js';
import type { AuditRecord } from '../run/audit-record.js';

/**
 * Turns the engine's events into notifications, and decides which kind each one is.
 *
 * The rule that keeps one run from sending duplicate or contradictory messages: a deploy or
 * rollback run sends at most one 'start' message (when its release is known) and exactly one
 * outcome message (at run:end, when the duration and the failing step are known too). An
 * outcome can fit more than one kind: a deploy that failed and was rolled back is a failure and
 * a rollback; an operator's successful rollback is a rollback and a success. It is sent once,
 * under the first of its kinds that `notify.on` lists, most urgent first:
 *
 *   deploy ok                          → success
 *   rollback run ok                    → rollback, else success
 *   failed, automatic rollback ran     → failure, else rollback
 *   failed, nothing to undo            → failure
 *
 * Pure: no I/O, so every sequence can be tested without a receiver.
 */

export type RunTrackerOptions = {
  readonly app: string;
  readonly operator: string;
  readonly localHost: string;
  readonly on: readonly NotifyEvent[];
  readonly now?: () => Date;
};

export type RunTracker = {
  observe(event: EngineEvent): Notification[];
  /** Ends a run that never reported run:end (the engine crashed): that is a failure worth telling. */
  close(): Notification[];
};

type Run = {
  readonly operation: 'deploy' | 'rollback';
  readonly target: string | null;
  readonly startedAt: number;
  release: string | null;
  previous: string | null;
  startSeen: boolean;
  /** The last engine step that began, for a crash report; rollback steps never count. */
  lastStep: string | null;
  /** The new release is recorded as active: from here on a failure leaves it serving. */
  finalized: boolean;
  rollback: { readonly phase: 'done' | 'failed'; readonly reason: string; readonly serving: string | null } | null;
  /** The audit record the run wrote on the host, once it has. */
  audit: AuditRecord | null;
  /** The contract diff's summary line, once the run compared contracts. */
  contract: string | null;
};

type Outcome = {
  readonly ok: boolean;
  readonly ms: number;
  readonly release: string | null;
  readonly previous: string | null;
  readonly error: { readonly step: string; readonly message: string } | null;
  readonly crashed: boolean;
};

export function createRunTracker(options: RunTrackerOptions): RunTracker {
  const now = options.now ?? (() => new Date());
  let run: Run | null = null;

  const message = (current: Run, event: NotifyEvent, fields: Partial<Notification>): Notification => ({
    event,
    operation: current.operation,
    app: options.app,
    target: current.target,
    release: current.release,
    previous: current.previous,
    ok: null,
    rolledBack: false,
    rollback: null,
    operator: options.operator,
    localHost: options.localHost,
    durationMs: null,
    error: null,
    serving: current.previous === null ? null : `release ${current.previous}`,
    contract: current.contract,
    ...fields,
    audit: fields.audit ?? null,
    at: now().toISOString(),
  });

  const finish = (current: Run, outcome: Outcome): Notification[] => {
    const rolledBack = current.rollback !== null;
    const kinds: readonly NotifyEvent[] = !outcome.ok
      ? rolledBack
        ? ['failure', 'rollback']
        : ['failure']
      : current.operation === 'rollback'
        ? ['rollback', 'success']
        : ['success'];
    const kind = kinds.find((candidate) => options.on.includes(candidate));
    if (kind === undefined) return [];
    return [
      message(current, kind, {
        release: outcome.release,
        previous: outcome.previous,
        ok: outcome.ok,
        rolledBack,
        rollback: current.rollback ? { phase: current.rollback.phase, reason: current.rollback.reason } : null,
        durationMs: outcome.ms,
        error: outcome.error,
        serving: servingAfter(current, outcome),
        audit: current.audit,
      }),
    ];
  };

  return {
    observe(event) {
      if (event.kind === 'run:start') {
        run =
          event.operation === 'deploy' || event.operation === 'rollback'
            ? {
                operation: event.operation,
                target: event.target,
                startedAt: event.at,
                release: null,
                previous: null,
                startSeen: false,
                lastStep: null,
                finalized: false,
                rollback: null,
                audit: null,
                contract: null,
              }
            : null;
        return [];
      }
      const current = run;
      if (current === null) return [];
      switch (event.kind) {
        case 'step:start':
          if (!event.step.startsWith('rollback.')) current.lastStep = event.step;
          return [];
        case 'step:done':
          if (event.step === 'finalize') current.finalized = true;
          return [];
        case 'release':
          // A run names its release once; a repeat must not announce the run twice.
          if (current.startSeen) return [];
          current.startSeen = true;
          current.release = event.release;
          current.previous = event.previous;
          return options.on.includes('start') ? [message(current, 'start', {})] : [];
        case 'rollback':
          // 'start' says only that an undo began; its result decides what the outcome message says.
          if (event.phase !== 'start') current.rollback = { phase: event.phase, reason: event.reason, serving: event.serving };
          return [];
        case 'audit':
          current.audit = event.record;
          return [];
        case 'contract':
          current.contract = event.summary;
          return [];
        case 'run:end':
          run = null;
          return finish(current, {
            ok: event.ok,
            ms: event.ms,
            release: event.release !== undefined ? event.release : current.release,
            previous: event.previous !== undefined ? event.previous : current.previous,
            error: event.ok ? null : (event.error ?? { step: current.lastStep ?? 'unknown', message: 'failed' }),
            crashed: false,
          });
        default:
          return [];
      }
    },
    close() {
      const current = run;
      if (current === null) return [];
      run = null;
      return finish(current, {
        ok: false,
        ms: Math.max(0, now().getTime() - current.startedAt),
        release: current.release,
        previous: current.previous,
        error: { step: current.lastStep ?? 'unknown', message: 'the run stopped without reporting its outcome' },
        crashed: true,
      });
    },
  };
}

/** What serves traffic once the run is over, as far as the events tell. */
function servingAfter(run: Run, outcome: Outcome): string | null {
  if (run.rollback !== null) return run.rollback.serving;
  if (outcome.ok || run.finalized) return outcome.release === null ? null : `release ${outcome.release}`;
  // A crash may have left nginx half-switched: claiming the old release serves could be a lie.
  if (outcome.crashed) return null;
  // Failed before the new release went live: traffic never moved.
  return outcome.previous === null ? null : `release ${outcome.previous}`;
}
