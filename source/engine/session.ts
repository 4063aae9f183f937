import { DeployError, isDeployError } from '../errors.js';
import { appendAuditAndUnlock } from '../host/run-end.js';
import type { AuditRecord } from '../run/audit-record.js';
import { hostNow, hostTimeFromEpoch, type HostTime } from '../host/host-clock.js';
import { hostLayout, type HostLayout } from '../host/layout.js';
import {
  acquireLockAndRead,
  breakLockOnRecord,
  readLock,
  releaseLock,
  type HeldLock,
  type LockedReads,
  type LockOperation,
} from '../host/lock.js';
import { localMachine } from '../host/lock-status.js';
import { keepLock, type LockKeeper } from './lock-keeper.js';
import { parseState, type HostState } from '../host/state.js';
import type { Transport } from '../remote/transport.js';
import { colourOfPort, portOf, type Colour } from './colours.js';
import type { EngineContext } from './context.js';
import { includesFrom, type Includes } from './nginx.js';
import { runStep } from '../run/step.js';
import { createSupervisor } from './supervisor/create-supervisor.js';
import type { Supervisor } from './supervisor/supervisor.js';

/** What serves traffic before a cutover; null on a first deploy. */
export type ActiveSide = { readonly colour: Colour; readonly port: number; readonly release: string } | null;

/**
 * One locked conversation with a host: what deploy and rollback share around their own steps,
 * and everything a cutover and its recovery work with, built once here.
 */
export type Session = {
  readonly transport: Transport;
  readonly layout: HostLayout;
  readonly supervisor: Supervisor;
  readonly state: HostState | null;
  readonly active: ActiveSide;
  /** The host's clock when this run took the lock: a deploy's release id carries it. */
  readonly lockedAt: HostTime;
  /** Release ids that start with `lockedAt`'s stamp already (a deploy only; empty otherwise). */
  readonly sameSecondReleases: ReadonlySet<string>;
  readonly servingDescription: string | null;
  /**
   * nginx's includes as the command that took the lock read them: what the run's first routing
   * change (the switch) starts from, without reading them again. Only lock holders write them.
   */
  readonly includesAtConnect: Includes;
  /** The run's context, with the lock guard that every host-changing step passes first. */
  readonly context: EngineContext;
  /**
   * After a failure: the error to report when the lock turns out (on the host) to be someone
   * else's now; the host is then theirs, and nothing may be undone. Null while it is ours.
   */
  lockLost(): Promise<DeployError | null>;
  /** Appends the audit record, releases the lock and closes the connection; never throws. */
  finish(record: Pick<AuditRecord, 'result' | 'from' | 'to' | 'steps' | 'error' | 'fleetRun'>): Promise<void>;
};

/**
 * Step 2: one connection, the host lock, and what serves traffic now. nginx's include is the
 * truth about traffic; state.json says which release that colour runs. If they disagree (a run
 * killed between the switch and the state write), we say so and believe nginx.
 */
export async function openSession(
  context: EngineContext,
  options: { operation: LockOperation; force: boolean; release?: string },
): Promise<Session> {
  const { bus, target, config } = context;
  const layout = hostLayout(target.path);
  let transport: Transport | null = null;
  let lock: HeldLock | null = null;
  // The host's clock when the lock was taken.
  let lockedAt: HostTime | null = null;
  const machine = localMachine();
  const stale = { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost, machine };
  const warn = (message: string) => bus.emit({ kind: 'notice', level: 'warn', message });
  const opened = await runStep(context, 'connect', `Connect to ${target.name} and take the lock`, async (step) => {
    transport = await context.connect();
    const request = {
      target: target.name,
      operator: context.operator,
      localHost: context.localHost,
      pid: process.pid,
      ...(machine === undefined ? {} : { machine }),
      release: options.release ?? null,
      operation: options.operation,
      createRoot: true,
      staleMinutes: target.lockStaleMinutes,
    };
    // state.json and nginx's includes are read in the command that takes the lock.
    const reads = {
      files: [layout.stateFile, target.nginx.upstreamFile, target.nginx.locationFile],
      sameSecondReleases: options.operation === 'deploy',
    };
    let locked: LockedReads;
    try {
      locked = await acquireLockAndRead(transport, layout, request, reads);
    } catch (error) {
      if (!(isDeployError(error) && error.kind === 'locked' && options.force)) throw error;
      const status = await readLock(transport, layout, stale);
      if (status.held && !status.stale) {
        throw new DeployError('locked', `${error.message} --force only breaks a stale lock, and this one is not stale.`, {
          hint: 'If you are sure no deploy is running, remove it with: mcp-deploy unlock --force',
        });
      }
      // Shown whatever the verbosity, and recorded: breaking someone's lock is never a quiet act.
      const broken = await breakLockOnRecord(transport, layout, status, {
        operator: context.operator,
        localHost: context.localHost,
        target: target.name,
      });
      if (broken !== null) warn(`--force broke the lock of ${broken}. Recorded in audit.log.`);
      locked = await acquireLockAndRead(transport, layout, request, reads);
    }
    lock = locked.lock;
    lockedAt = hostTimeFromEpoch(locked.lock.info.startedAt);
    const state = parseState(locked.files.get(layout.stateFile) ?? null, transport, layout);
    const includes = includesFrom(
      target,
      locked.files.get(target.nginx.upstreamFile) ?? null,
      locked.files.get(target.nginx.locationFile) ?? null,
    );
    const active = await activeSide(
      state,
      colourOfPort(target, includes.port),
      target,
      createSupervisor(target, transport, layout, config.app),
      warn,
    );
    step.detail(`${transport.label}; ${active ? `${active.release} serves on ${active.colour} (${active.port})` : 'nothing deployed yet'}`);
    return { state, active, sameSecondReleases: locked.sameSecondReleases, includes };
  }).catch(async (error: unknown) => {
    if (transport !== null) {
      // The lock may already be ours (an unreadable state.json fails after it was taken): give it
      // back, or this failed run would leave every later one "locked" (found by the host-fault tests).
      const taken = lock as HeldLock | null;
      if (taken !== null) await releaseLock(transport as Transport, layout, taken.token).catch(() => {});
      await (transport as Transport).close().catch(() => {});
    }
    throw error;
  });
  if (transport === null || lock === null || lockedAt === null || opened === undefined)
    throw new Error('connect step ended without a connection');
  const clockAtLock: HostTime = lockedAt;
  const held: HeldLock = lock;
  const connection: Transport = transport;
  const active = opened.active;
  const keeper: LockKeeper = keepLock(connection, layout, held, { target: target.name, stale, warn });
  // The steps' transport carries the lock check of each host-changing step; the audit and the
  // unlock at the end go straight through (they run whoever holds the lock by then).
  const steps = keeper.transport;
  return {
    transport: steps,
    layout,
    supervisor: createSupervisor(target, steps, layout, config.app, warn),
    state: opened.state,
    active,
    lockedAt: clockAtLock,
    sameSecondReleases: opened.sameSecondReleases,
    includesAtConnect: opened.includes,
    servingDescription: active ? `release ${active.release} on ${active.colour} (port ${active.port})` : null,
    context: { ...context, guard: keeper.guard },
    lockLost: () => keeper.confirm(),
    finish: async (record) => {
      keeper.stop();
      await runStep(
        context,
        'audit',
        'Write the audit log and unlock',
        async (step) => {
          const problems: string[] = [];
          // The record (with the host's time) and the unlock in one command.
          const end = await appendAuditAndUnlock(
            connection,
            layout,
            held.token,
            {
              operator: context.operator,
              localHost: context.localHost,
              target: target.name,
              operation: options.operation,
              ...record,
              // A copy: the caller's list grows with this very step after the record is written.
              steps: [...record.steps],
            },
            new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          );
          if (end.auditProblem !== null) problems.push(`audit log: ${end.auditProblem}`);
          bus.emit({ kind: 'audit', record: end.record });
          const outcome = typeof end.unlock === 'string' ? end.unlock : 'failed';
          if (typeof end.unlock !== 'string') problems.push(`unlock: ${end.unlock.problem}`);
          // Known lost: already reported, and the run stopped for it; leaving the new holder's lock is right.
          if (outcome === 'not-ours' && keeper.lost() === null)
            problems.push('the lock was taken over by someone else (it was broken with --force); left it alone');
          step.detail(
            outcome === 'released'
              ? 'lock released'
              : keeper.lost() !== null
                ? 'the lock was no longer ours: left alone'
                : `lock: ${outcome}`,
          );
          if (problems.length > 0) throw new DeployError('host-state', problems.join('; '));
        },
        { uninterruptible: true },
      ).catch(() => {
        // Reported as a failed step; the deploy's own outcome stands.
      });
      await connection.close().catch(() => {});
    },
  };
}

/** The host's time for audit records; the operator's only when the host cannot say. */
export async function hostIso(transport: Transport): Promise<string> {
  return hostNow(transport).then(
    (time) => time.iso,
    () => new Date().toISOString(),
  );
}

/**
 * What serves traffic. nginx's include is the truth about traffic; state.json says which release
 * that colour runs. A run cut off between the switch and the state write leaves them disagreeing:
 * then the colour nginx points at is active, with the release its process really runs, so this
 * run starts on the other colour and never stops the one that serves.
 */
async function activeSide(
  state: HostState | null,
  trafficColour: Colour | null,
  target: EngineContext['target'],
  supervisor: Supervisor,
  warn: (message: string) => void,
): Promise<ActiveSide> {
  const recorded = state?.active ?? null;
  if (trafficColour === null || trafficColour === recorded?.colour) return recorded;
  const release = (await supervisor.runningRelease?.(trafficColour)) ?? null;
  if (release === null) {
    if (recorded !== null)
      warn(`nginx points at ${trafficColour}, which runs nothing; state.json says ${recorded.release} on ${recorded.colour} is active.`);
    return recorded;
  }
  warn(
    `nginx sends traffic to ${trafficColour} (${release}) but state.json says ${recorded ? `${recorded.release} on ${recorded.colour}` : 'nothing'} is active: ` +
      `an earlier run was cut off after the switch. Treating ${trafficColour} as active.`,
  );
  return { colour: trafficColour, port: portOf(target, trafficColour), release };
}
