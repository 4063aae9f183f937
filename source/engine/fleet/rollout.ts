import { DeployError } from '../../errors.js';
import type { FleetOperation, FleetOutcome } from '../../run/events.js';
import type { RunSummary } from '../operation.js';
import { sleepUnlessAborted } from '../sample-loop.js';
import { planBatches } from './batches.js';
import type { FleetContext } from './fleet-context.js';
import type { FleetSummary } from './fleet-summary.js';
import { type HostRun, hostResult, withSlots } from './host-run.js';
import { meeting, type Meeting, semaphore } from './latch.js';

export type FleetSpec<In, Out> = {
  readonly operation: FleetOperation;
  /** Runs the host's whole one-host operation (runOperation) with the fleet's phases in it. */
  readonly start: (run: HostRun<In, Out>, runId: string) => Promise<RunSummary>;
  /** Once every host is at the middle meeting: each host's answer, in the order of `arrived`; throws to stop them all. */
  readonly decide: (arrived: readonly { readonly run: HostRun<In, Out>; readonly value: In }[]) => Promise<Out[]>;
  /** The release the fleet moves to, once decided. */
  readonly release: () => string | null;
};

/**
 * The fleet's frame around every host's one-host run: connections opened ahead (at most
 * rollout.maxConnections at once), locks taken one host after the other in the config's order
 * (all or none: the first host that cannot be locked or reached stops every other before anything
 * changed), the operation's own meeting, every host ready (uploaded and installed), then the
 * canary and the batches. The first failure halts the rollout; with rollout.onFailure "rollback"
 * (the default) the hosts already switched go back, batch by batch, so the fleet serves one release.
 */
export async function runFleet<In, Out>(fleet: FleetContext, spec: FleetSpec<In, Out>): Promise<FleetSummary> {
  const { base, members, rollout } = fleet;
  const runId = fleetRunId();
  const names = members.map((member) => member.name);
  const batches = planBatches(names, rollout);
  base.bus.emit({ kind: 'fleet:start', operation: spec.operation, target: base.target.name, runId, hosts: names, batches });

  const connections = semaphore(rollout.maxConnections);
  const opening = members.map((member) => {
    const opened = (async () => {
      const release = await connections.acquire();
      try {
        return await member.context.connect();
      } finally {
        release();
      }
    })();
    opened.catch(() => {});
    return opened;
  });
  const uploads = semaphore(rollout.maxConnections);
  const runs: HostRun<In, Out>[] = members.map((member, index) => ({
    member: { name: member.name, context: { ...member.context, connect: () => opening[index]! } },
    state: null,
    locked: meeting(),
    middle: meeting(),
    ready: meeting(),
    switched: meeting(),
    releaseSlot: null,
    reverted: false,
  }));
  const ended = new Map<HostRun<In, Out>, Promise<RunSummary>>();
  const summaries = new Map<HostRun<In, Out>, RunSummary>();
  const begin = (run: HostRun<In, Out>) => {
    const started = spec.start(withSlots(run, uploads), runId).then((summary) => {
      summaries.set(run, summary);
      run.releaseSlot?.();
      return summary;
    });
    ended.set(run, started);
    return started;
  };
  const aborted = abortPromise(base.signal);
  /** Whether the host reached the point, or its run ended (or the operator stopped the fleet) first. */
  const reached = async (run: HostRun<In, Out>, point: Meeting<unknown, unknown>): Promise<boolean> => {
    const end = ended.get(run);
    if (end === undefined) return false;
    return Promise.race([point.arrived.promise.then(() => true), end.then(() => false), aborted.then(() => false)]);
  };

  let failed: HostRun<In, Out> | null = null;
  let stopped = false;

  // 1. Locks, one host after the other.
  const started: HostRun<In, Out>[] = [];
  for (const run of runs) {
    started.push(run);
    begin(run);
    if (!(await reached(run, run.locked))) {
      failed = run;
      break;
    }
  }
  const everyone = async (point: (run: HostRun<In, Out>) => Meeting<unknown, unknown>): Promise<HostRun<In, Out> | null> => {
    const results = await Promise.all(started.map(async (run) => ({ run, ok: await reached(run, point(run)) })));
    return results.find((result) => !result.ok && !(summaries.get(result.run)?.ok ?? false))?.run ?? null;
  };
  const haltAt = (point: (run: HostRun<In, Out>) => Meeting<unknown, unknown>, why: string) => {
    const error = new DeployError('deploy', why, {
      hint: 'Nothing was changed on this host by the fleet run; see the other host for why.',
    });
    for (const run of started) if (!point(run).answer.settled()) point(run).answer.reject(error);
  };
  const blame = (run: HostRun<In, Out> | null) => {
    if (base.signal.aborted || run === null) return 'the fleet run was interrupted';
    const error = summaries.get(run)?.error;
    return `${run.member.name} failed${error ? ` at ${error.step}: ${error.message.split('\n')[0]?.replace(/\.$/, '')}` : ''}`;
  };

  if (failed !== null || base.signal.aborted) {
    stopped = true;
    haltAt((run) => run.locked, `Stopped before anything changed: ${blame(failed)}.`);
  } else {
    for (const run of started) run.locked.answer.resolve();
    // 2. The operation's own meeting (after each host's pre-flight).
    failed = await everyone((run) => run.middle);
    if (failed !== null || base.signal.aborted) {
      stopped = true;
      haltAt((run) => run.middle, `Stopped before anything changed: ${blame(failed)}.`);
    } else {
      const arrived = await Promise.all(started.map(async (run) => ({ run, value: await run.middle.arrived.promise })));
      try {
        const answers = await spec.decide(arrived);
        for (const [index, { run }] of arrived.entries()) run.middle.answer.resolve(answers[index] as Out);
      } catch (error) {
        stopped = true;
        for (const run of started) run.middle.answer.reject(error);
      }
    }
  }

  if (!stopped) {
    // 3. Every host uploaded and installed before the first one switches.
    failed = await everyone((run) => run.ready);
    if (failed !== null || base.signal.aborted) {
      stopped = true;
      haltAt((run) => run.ready, `Stopped before any host switched: ${blame(failed)}.`);
    }
  }

  // 4. The canary, then the batches.
  const switchedHosts: HostRun<In, Out>[] = [];
  if (!stopped) {
    for (const [index, batch] of batches.entries()) {
      const inBatch = runs.filter((run) => batch.includes(run.member.name));
      base.bus.emit({ kind: 'fleet:batch', index, hosts: batch });
      for (const run of inBatch) if (run.ready.arrived.settled()) run.ready.answer.resolve();
      const outcomes = await Promise.all(inBatch.map(async (run) => ({ run, ok: await reached(run, run.switched) })));
      for (const outcome of outcomes) if (outcome.ok) switchedHosts.push(outcome.run);
      const bad = outcomes.find((outcome) => !outcome.ok && !(summaries.get(outcome.run)?.ok ?? false));
      if (bad !== undefined || base.signal.aborted) {
        // A host of the batch that switched while another failed waits at its verdict like the others.
        failed = bad?.run ?? null;
        break;
      }
      if (index < batches.length - 1 && rollout.pauseSeconds > 0) await sleepUnlessAborted(rollout.pauseSeconds * 1000, base.signal);
      if (base.signal.aborted) break;
    }
  }

  const halted = failed !== null || base.signal.aborted;
  if (halted && !stopped) {
    haltAt((run) => run.ready, `Halted before this host switched: ${blame(failed)}.`);
    if (rollout.onFailure === 'rollback') {
      // Back in the batches they went in, each batch at once.
      for (const batch of batches) {
        const back = switchedHosts.filter((run) => batch.includes(run.member.name));
        for (const run of back) run.switched.answer.resolve('revert');
        await Promise.all(back.map((run) => ended.get(run)));
      }
    }
  }
  for (const run of switchedHosts) if (!run.switched.answer.settled()) run.switched.answer.resolve('keep');
  await Promise.all([...ended.values()]);
  // Connections opened ahead for hosts the fleet never got to.
  await Promise.all(
    runs
      .filter((run) => !ended.has(run))
      .map((run) =>
        run.member.context
          .connect()
          .then((transport) => transport.close())
          .catch(() => {}),
      ),
  );

  const outcome: FleetOutcome = base.signal.aborted
    ? 'interrupted'
    : !halted
      ? 'ok'
      : stopped
        ? 'stopped'
        : rollout.onFailure === 'rollback'
          ? 'rolled-back'
          : 'halted';
  const hosts = runs.map((run) => hostResult(run, summaries.get(run) ?? null, switchedHosts.includes(run)));
  const release = spec.release();
  const first = failed === null ? null : (summaries.get(failed) ?? null);
  base.bus.emit({ kind: 'fleet:end', ok: outcome === 'ok', outcome, release, hosts });
  return {
    ok: outcome === 'ok',
    operation: spec.operation,
    target: base.target.name,
    runId,
    release,
    outcome,
    batches,
    hosts,
    runs: runs.map((run) => ({ host: run.member.name, summary: summaries.get(run) ?? null })),
    ...(failed !== null && first?.error
      ? {
          error: {
            host: failed.member.name,
            step: first.error.step,
            message: first.error.message,
            ...(first.error.hint ? { hint: first.error.hint } : {}),
          },
        }
      : {}),
    exitCode: outcome === 'ok' ? 0 : outcome === 'interrupted' ? 130 : (first?.exitCode ?? 1),
  };
}

/** The id of one fleet run, in every host's audit log: when, and a few random letters. */
function fleetRunId(): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `fleet-${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
