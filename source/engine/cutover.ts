import { DeployError, describeError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { markFailed, recordTools } from '../host/releases.js';
import { switchCurrent, writeState } from '../host/state.js';
import { hostNow } from '../host/host-clock.js';
import { waitHealthy } from '../health/wait-healthy.js';
import type { Transport } from '../remote/transport.js';
import { serverCommand } from '../runtime/server-command.js';
import { otherColour, portOf, type Colour } from './colours.js';
import type { EngineContext } from './context.js';
import { switchUpstream } from './nginx.js';
import { followServerLog, readLogTail } from './server-log.js';
import { runStep, StepFailure } from './step.js';
import type { Supervisor } from './supervisor/supervisor.js';
import { portInUse } from './port-check.js';
import { drainPort } from './drain.js';
import { accessLogOffset, judge, readWindow } from './watch.js';
import { waitForRelease } from '../health/release-identity.js';
import { publicUrlProblem } from '../health/public-answer.js';

/** What serves traffic before the cutover; null on a first deploy. */
export type ActiveSide = { readonly colour: Colour; readonly port: number; readonly release: string } | null;

export type CutoverInput = {
  readonly context: EngineContext;
  readonly transport: Transport;
  readonly layout: HostLayout;
  readonly supervisor: Supervisor;
  readonly release: string;
  /** The interpreter a python entry runs with (the release's venv, or the configured python). */
  readonly interpreter: string;
  readonly active: ActiveSide;
};

/** How far a cutover got, so recovery knows what to undo. Mutated as steps complete. */
export type CutoverProgress = {
  colour: Colour;
  port: number;
  started: boolean;
  switched: boolean;
  finalized: boolean;
  tools: string[] | null;
};

const stopGraceMs = 10_000;
/** How much longer than drainSeconds we wait for connections to the old colour to close. */
const maxExtraDrainMs = 30_000;

/**
 * Steps 5–10 of a deploy, shared with rollback: start the release on the idle colour, check it,
 * switch nginx, check again through the public URL, record it as active, drain and stop the old
 * colour. Traffic moves only after the new colour has passed every check.
 */
export async function cutover(input: CutoverInput, progress: CutoverProgress): Promise<void> {
  const { context, transport, layout, supervisor, release, active } = input;
  const { config, target, bus, signal } = context;
  const { colour, port } = progress;
  const logFile = layout.logFile(release);
  const checkpoint = async (step: string, phase: 'start' | 'end') => {
    signal.throwIfAborted();
    await context.checkpoint?.(step, phase);
  };
  const log = followServerLog(transport, bus, logFile);
  try {
    await runStep(bus, 'start', `Start ${colour} on port ${port}`, async (step) => {
      await checkpoint('start', 'start');
      const leftover = await supervisor.stop(colour, { graceMs: stopGraceMs });
      if (leftover.wasRunning) step.log(`stopped a leftover ${colour} server from an earlier run`);
      if (await portInUse(transport, config.runtime.python, port)) {
        throw new DeployError('deploy', `Port ${port} (${colour}) on ${transport.label} is already in use by another process.`, {
          hint: `Find it with: ss -ltnp 'sport = :${port}' on the host, stop it or change targets.${target.name}.ports.${colour}.`,
        });
      }
      const command = serverCommand(config.runtime, { port, release, host: '127.0.0.1', python: input.interpreter });
      const { pid } = await supervisor.start({
        colour,
        port,
        release,
        releaseDir: layout.releaseDir(release),
        script: command.script,
        env: command.env,
        envFile: layout.envFile,
        logFile,
      });
      progress.started = true;
      step.detail(pid === null ? `release ${release}` : `pid ${pid}, release ${release}`);
      await checkpoint('start', 'end');
    });

    await runStep(bus, 'health', `Health-check ${colour}`, async (step) => {
      await checkpoint('health', 'start');
      const tunnel = await transport.openTunnel(port);
      try {
        const result = await checkWhileRunning(
          (settled) =>
            waitHealthy(`http://127.0.0.1:${tunnel.localPort}`, config.health, {
              timeoutMs: config.health.timeoutSeconds * 1000,
              signal: AbortSignal.any([signal, settled]),
            }),
          () => supervisor.isRunning(colour),
        );
        progress.tools = result?.tools ?? null;
      } catch (error) {
        const lines = log.lastLines().length > 0 ? log.lastLines() : await readLogTail(transport, logFile);
        throw new StepFailure(
          describeError(error),
          lines.length > 0 ? ['last lines of the server log:', ...lines.map((line) => `  ${line}`)] : [],
          {
            ...(error instanceof DeployError && error.hint ? { hint: error.hint } : {}),
            cause: error,
          },
        );
      } finally {
        await tunnel.close();
      }
      if (progress.tools !== null) {
        await recordTools(transport, layout, release, progress.tools);
        step.detail(`tools: ${progress.tools.join(', ') || '(none)'}`);
      }
      await checkpoint('health', 'end');
    });

    let switchOffset: number | null = null;
    await runStep(bus, 'switch', `Switch nginx to ${colour} (${port})`, async (step) => {
      await checkpoint('switch', 'start');
      if (config.watch?.accessLog !== undefined && config.watch.seconds > 0)
        switchOffset = await accessLogOffset(transport, config.watch.accessLog);
      await switchUpstream(transport, target, config.app, port, step.log);
      progress.switched = true;
      step.detail(`upstream ${target.nginx.upstream} → 127.0.0.1:${port}`);
      await checkpoint('switch', 'end');
    });

    await runStep(bus, 'verify', `Verify through ${target.publicUrl}`, async (step) => {
      await checkpoint('verify', 'start');
      // Watched like the health step: a server that dies now (it serves the traffic already) is
      // noticed within a second and switched back, instead of after the whole verify timeout
      // with every request failing meanwhile (found by the host-fault tests).
      await checkWhileRunning(
        async (settled) => {
          const checks = AbortSignal.any([signal, settled]);
          const identity = await waitForRelease(target.publicUrl, config.health.http, release, { timeoutMs: 30_000, signal: checks });
          step.detail(
            identity === 'confirmed'
              ? `${release} answers through nginx`
              : 'checks pass through nginx (the server does not report its release)',
          );
          await waitHealthy(target.publicUrl, config.health, {
            timeoutMs: Math.min(config.health.timeoutSeconds, 30) * 1000,
            signal: checks,
          });
        },
        () => supervisor.isRunning(colour),
        'verification',
      );
      if (!(await supervisor.isRunning(colour)))
        throw new DeployError('deploy', `The ${colour} server exited while it was being verified.`);
      await checkpoint('verify', 'end');
    });
    const watch = config.watch;
    if (watch !== undefined && watch.seconds > 0 && watch.accessLog !== undefined) {
      const accessLog = watch.accessLog;
      await runStep(bus, 'watch', `Watch ${colour} through nginx for ${watch.seconds} s`, async (step) => {
        await checkpoint('watch', 'start');
        const offset = switchOffset ?? (await accessLogOffset(transport, accessLog));
        await sleep(watch.seconds * 1000);
        signal.throwIfAborted();
        const sample = await readWindow(transport, accessLog, offset, port);
        const verdict = judge(sample, watch);
        if (verdict !== null) {
          throw new DeployError('deploy', `The new release misbehaved under real traffic: ${verdict}.`, {
            hint: 'Traffic was switched back; the release is marked failed. Its log is in shared/logs on the host.',
          });
        }
        step.detail(
          `${sample.requests} request(s), ${sample.errors} failed${sample.p99Ms === null ? '' : `, p99 ${Math.round(sample.p99Ms)} ms`}`,
        );
        await checkpoint('watch', 'end');
      });
    }
  } finally {
    await log.stop();
  }

  // From here on the new release serves traffic: record that first, so that whatever happens
  // during the drain, the host's state says what is really serving.
  await runStep(bus, 'finalize', `Record ${release} as active`, async () => {
    await context.checkpoint?.('finalize', 'start');
    await switchCurrent(transport, layout, release);
    await writeState(transport, layout, {
      version: 1,
      app: config.app,
      active: { colour, port, release },
      previous: active?.release ?? null,
      // The host's clock, like release ids and lock ages: operators' clocks may disagree.
      updatedAt: (await hostNow(transport)).iso,
    });
    progress.finalized = true;
    await context.checkpoint?.('finalize', 'end');
  });

  await runStep(bus, 'drain', active ? `Drain and stop ${active.colour} (${active.port})` : 'Drain the old colour', async (step) => {
    await context.checkpoint?.('drain', 'start');
    if (active === null) {
      step.detail('first deploy: nothing to drain');
      return;
    }
    // Interruptions no longer matter: the new release serves and is recorded. Requests that
    // reached the old colour before the reload finish there: wait at least drainSeconds, then
    // until nginx's old workers have let go of their connections to it.
    const open = await drainPort(transport, active.port, {
      minimumMs: config.drainSeconds * 1000,
      maximumMs: config.drainSeconds * 1000 + maxExtraDrainMs,
      log: step.log,
    });
    const stopped = await supervisor.stop(otherColour(colour), { graceMs: stopGraceMs });
    const how = stopped.killed ? `ignored SIGTERM and was killed after ${stopGraceMs / 1000} s` : 'stopped';
    step.detail(`${active.colour} ${how}${open > 0 ? ` with ${open} connection(s) still open after the drain` : ''}`);
    await context.checkpoint?.('drain', 'end');
  });
}

/**
 * Undoes a cutover that failed before it was finalized: traffic goes back to the old colour if
 * it had moved, the new colour is stopped, and the release is marked failed (kept for its logs).
 * Returns what serves traffic afterwards, in words.
 */
export async function recoverCutover(
  input: CutoverInput,
  progress: CutoverProgress,
  failure: { step: string; message: string },
  options: { markFailed: boolean } = { markFailed: true },
): Promise<string | null> {
  const { context, transport, layout, supervisor, release, active } = input;
  const { bus, target, config } = context;
  const serving = active ? `release ${active.release} on ${active.colour} (port ${active.port})` : null;
  bus.emit({ kind: 'rollback', phase: 'start', reason: `${failure.step} failed: ${failure.message}`, serving });
  const problems: string[] = [];
  let switchedBack = false;
  if (progress.switched && active !== null) {
    await runStep(bus, 'rollback.switch', `Switch nginx back to ${active.colour} (${active.port})`, async () => {
      await switchUpstream(transport, target, config.app, active.port);
      switchedBack = true;
    }).catch((error: unknown) => problems.push(`switching back failed: ${describeError(error)}`));
  }
  if (progress.started) {
    await runStep(bus, 'rollback.stop', `Stop ${progress.colour} (${progress.port})`, async (step) => {
      // Traffic reached the new colour: like the drain of a cutover, let nginx's old workers
      // finish with it before stopping it. Without this, requests already on those workers
      // (and on their kept-alive client connections) got 502 (found by the fault matrix:
      // SIGINT right after the switch).
      if (switchedBack) {
        await drainPort(transport, progress.port, {
          minimumMs: config.drainSeconds * 1000,
          maximumMs: config.drainSeconds * 1000 + maxExtraDrainMs,
          log: step.log,
        });
      }
      await supervisor.stop(progress.colour, { graceMs: stopGraceMs });
    }).catch((error: unknown) => problems.push(`stopping ${progress.colour} failed: ${describeError(error)}`));
  }
  // A rollback target that fails again keeps its good name: it served before, the fault may be elsewhere.
  if (options.markFailed)
    await markFailed(transport, layout, release, failure).catch((error: unknown) =>
      problems.push(`marking ${release} failed: ${describeError(error)}`),
    );
  // The old colour runs, but with nginx down (say) nothing answers publicly: say so (found by the host-fault tests).
  const unanswered = serving === null ? null : await publicUrlProblem(target.publicUrl, config.health.http);
  const servingNow = serving === null || unanswered === null ? serving : `${serving}, but ${unanswered}`;
  if (problems.length > 0) {
    bus.emit({ kind: 'rollback', phase: 'failed', reason: problems.join('; '), serving: servingNow });
  } else {
    bus.emit({ kind: 'rollback', phase: 'done', reason: `${failure.step} failed`, serving: servingNow });
  }
  return servingNow;
}

export function newProgress(target: EngineContext['target'], active: ActiveSide): CutoverProgress {
  const colour = active === null ? 'blue' : otherColour(active.colour);
  return { colour, port: portOf(target, colour), started: false, switched: false, finalized: false, tools: null };
}

/**
 * Runs `check` while polling that the server is still up, so a crash fails fast instead of
 * waiting out the timeout. `check` gets a signal that is aborted once the race is decided, so a
 * check that lost to the watchdog stops probing instead of running on to its own timeout.
 */
async function checkWhileRunning<T>(
  check: (signal: AbortSignal) => Promise<T>,
  running: () => Promise<boolean>,
  during = 'start',
): Promise<T> {
  let stop = false;
  const done = new AbortController();
  const watchdog = (async () => {
    while (!stop) {
      await sleep(500);
      if (stop) return;
      if (!(await running().catch(() => true))) throw new DeployError('deploy', `The server exited during ${during}.`);
    }
  })();
  try {
    return await Promise.race([check(done.signal), watchdog as Promise<never>]);
  } finally {
    stop = true;
    done.abort();
    await watchdog.catch(() => {});
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
