import { DeployError, describeError } from '../errors.js';
import type { Contract } from '../contract/contract.js';
import { readReleaseContract, recordContract } from '../host/releases.js';
import { recordActive } from '../host/state.js';
import { waitHealthy } from '../health/wait-healthy.js';
import { serverCommand } from '../runtime/server-command.js';
import { otherColour, portOf } from './colours.js';
import type { CutoverProgress } from './cutover-progress.js';
import type { Session } from './session.js';
import { applyRouting, readIncludes, type Includes } from './nginx.js';
import { switchedTo } from './nginx-routing.js';
import { followServerLog, readLogTail } from './server-log.js';
import { runStep, StepFailure } from '../run/step.js';
import { portInUse } from './port-check.js';
import { envFilesFor } from './env-file.js';
import { retireAndStop, stopGraceMs } from './retire.js';
import { proveServing } from './prove-serving.js';
import { reloadSettleMs } from './drain.js';
import { settledLine } from './nginx-settle.js';
import { edgeHeaders } from './keys-host.js';
import { sessionsStep, sessionsToWaitFor } from './steps/sessions.js';
import { startFirstLook, type FirstLook } from './session-drain.js';
import { accessLogOffset, judge, readBefore, readWindow } from './watch.js';
import { checkWhileRunning } from './while-running.js';
import { contractStep, type ContractPolicy } from './contract-gate.js';
import { hostHookStep, releaseHookRun } from './steps/hooks.js';
import { exposureStep } from './steps/exposure.js';
import { listenersOn, type Listener } from '../host/listening-sockets.js';
import { keysStep } from './steps/keys.js';

/**
 * What a cutover moves to: the release, the interpreter its entry runs with (a python release's
 * venv, the configured python or node), a node release's start script when it has no entry, and
 * how its contract change is judged.
 */
export type CutoverTarget = {
  readonly release: string;
  readonly interpreter: string;
  readonly startScript?: string | null;
  readonly contractPolicy: ContractPolicy;
  /** What moves traffic: the host hooks are told (a restart runs none). */
  readonly operation: 'deploy' | 'rollback' | 'restart';
};

/**
 * Steps 5–10 of a deploy, shared with rollback: start the release on the idle colour, check it,
 * switch nginx, check again through the public URL, record it as active, drain and stop the old
 * colour. Traffic moves only after the new colour has passed every check.
 */
export async function cutover(session: Session, next: CutoverTarget, progress: CutoverProgress): Promise<void> {
  const { context, transport, layout, supervisor, active } = session;
  const { release } = next;
  const { config, target, bus, signal } = context;
  const { colour, port } = progress;
  const logFile = layout.logFile(release);
  // The env file the supervisor gives the release; its hooks get the same.
  // The environment the release runs with (env-file.ts): the server's and its hooks'.
  const envFiles = envFilesFor(layout, release);
  const command = serverCommand(config.runtime, {
    port,
    release,
    host: '127.0.0.1',
    interpreter: next.interpreter,
    startScript: next.startScript ?? null,
  });
  const hookRun = releaseHookRun(session, next, { colour, port, envFiles, serverEnv: command.env });
  const hooks = next.operation !== 'restart';
  if (hooks) await hostHookStep(context, 'beforeStart', hookRun);
  const log = followServerLog(transport, bus, logFile);
  // nginx's includes as read under this run's lock, while nothing but this run has changed them:
  // the switch starts from them instead of reading them again. A hook is the operator's code
  // and may touch anything: with hooks, they are read again.
  let knownIncludes: Includes | null = config.hooks === undefined ? session.includesAtConnect : null;
  let activeContract: (() => Promise<Contract | null>) | undefined;
  let listeners: Promise<Listener[]> | undefined;
  try {
    await runStep(context, 'start', `Start ${colour} on port ${port}`, async (step) => {
      // Both asked at once (two commands, one round trip's wait); the port is asked again only
      // when a leftover server of ours held it.
      const [leftover, taken] = await Promise.all([supervisor.isRunning(colour), portInUse(transport, config.runtime.python, port)]);
      if (leftover) {
        // A run cut off during its session drain leaves the old colour serving its sessions:
        // retire it properly (nginx answers them 404) before the port is taken over.
        const includes = knownIncludes ?? (await readIncludes(transport, target));
        const { routing } = includes;
        const live = routing !== null && routing.active !== colour && routing.tags[colour] !== null;
        if (live) step.log(`${colour} still served the sessions of a run that was cut off: retiring it first`);
        const release = (await supervisor.runningRelease?.(colour)) ?? null;
        const retired = await retireAndStop(session, { colour, port, release, routing, step, drain: live ? 'full' : 'none', includes });
        knownIncludes = retired.includes;
        step.log(`stopped a leftover ${colour} server from an earlier run`);
      } else if (supervisor.kind !== 'process') {
        // Nothing of ours runs there: stop() clears a stale pid file, and reports (never signals)
        // a process the pid file names that is not the server mcp-deploy started. The process
        // supervisor's start does both itself, in its own command (no round trip more).
        await supervisor.stop(colour, { graceMs: stopGraceMs });
      }
      if (leftover ? await portInUse(transport, config.runtime.python, port) : taken) {
        throw new DeployError('deploy', `Port ${port} (${colour}) on ${transport.label} is already in use by another process.`, {
          hint: `Find it with: ss -ltnp 'sport = :${port}' on the host, stop it or change targets.${target.name}.ports.${colour}.`,
        });
      }
      const { pid } = await supervisor.start({
        colour,
        port,
        release,
        releaseDir: layout.releaseDir(release),
        script: command.script,
        env: command.env,
        envFiles,
        logFile,
      });
      progress.started = true;
      step.detail(pid === null ? `release ${release}` : `pid ${pid}, release ${release}`);
    });

    await runStep(context, 'health', `Health-check ${colour}`, async (step) => {
      const tunnel = await transport.openTunnel(port);
      // The tunnel stays open until this step's last commands are done: the probe ends its
      // session (DELETE) after it has returned, alongside them.
      try {
        try {
          const result = await checkWhileRunning(
            (settled) =>
              waitHealthy(`http://127.0.0.1:${tunnel.localPort}`, config.health, {
                timeoutMs: config.health.timeoutSeconds * 1000,
                signal: AbortSignal.any([signal, settled]),
                contract: true,
              }),
            () => supervisor.isRunning(colour),
          );
          progress.tools = result?.tools ?? null;
          progress.contract = result?.contract ?? null;
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
        }
        // The exposure step's look at what the colour listens on goes alongside this step's last
        // commands: the server is up, and the answer does not change by waiting a round trip.
        listeners = listenersOn(transport, port);
        listeners.catch(() => {});
        if (progress.contract !== null) {
          // The active release's contract, which the contract step compares with, is read alongside
          // this record (two commands at once); a failure to read it is the contract step's to report.
          const contract = progress.contract;
          const [, read] = await Promise.all([
            recordContract(transport, layout, release, contract),
            active === null || active.release === release
              ? null
              : readReleaseContract(transport, layout, active.release).then(
                  (value) => ({ value }),
                  (error: unknown) => ({ error }),
                ),
          ]);
          if (read !== null) activeContract = async () => ('error' in read ? Promise.reject(read.error) : read.value);
        }
      } finally {
        await tunnel.close();
      }
      if (progress.tools !== null) step.detail(`tools: ${progress.tools.join(', ') || '(none)'}`);
    });

    await exposureStep(session, progress, listeners);
    await contractStep(session, release, progress, next.contractPolicy, activeContract);
    await keysStep(session);

    let switchOffset: number | null = null;
    await runStep(context, 'switch', `Switch nginx to ${colour} (${port})`, async (step) => {
      if (config.watch?.accessLog !== undefined && config.watch.seconds > 0)
        switchOffset = await accessLogOffset(transport, config.watch.accessLog);
      const includes = knownIncludes ?? (await readIncludes(transport, target));
      const routing = switchedTo(includes.routing, colour);
      progress.routingBefore = includes.routing;
      const applied = await applyRouting(transport, target, config.app, routing, step.log, includes);
      progress.includes = applied.after;
      progress.switched = true;
      progress.routing = routing;
      progress.switchedAt = performance.now();
      progress.settled = applied.settled;
      step.log(
        applied.settled
          ? `${settledLine}: the public URL shows ${colour} from now on`
          : `could not tell when nginx's old workers stop accepting (nginx.pidFile ${target.nginx.pidFile}): verify waits ${reloadSettleMs / 1000} s first`,
      );
      const other = otherColour(colour);
      step.detail(
        `upstream ${target.nginx.upstream} → 127.0.0.1:${port}${routing.tags[other] !== null ? `; ${other} keeps the sessions it issued` : ''}`,
      );
    });

    await runStep(context, 'verify', `Verify through ${target.publicUrl}`, async (step) => {
      // Watched like the health step: a server that dies now (it serves the traffic already) is
      // noticed within a second and switched back, instead of after the whole verify timeout
      // with every request failing meanwhile (found by the host-fault tests).
      await checkWhileRunning(
        async (settled) => {
          const checks = AbortSignal.any([signal, settled]);
          // The health checks run alongside the look that proves who serves, once nginx's old
          // workers have stopped accepting: neither waits for the other's round trips.
          step.detail(
            await proveServing(session, { colour, release }, active?.release ?? null, progress, checks, async (healthChecks) => {
              // Whether the server still runs is asked while the last checks run (the watchdog
              // asked every half second before): the answer goes by after them, not after a round trip more.
              const [, running] = await Promise.all([
                waitHealthy(target.publicUrl, config.health, {
                  timeoutMs: Math.min(config.health.timeoutSeconds, 30) * 1000,
                  signal: healthChecks,
                  headers: await edgeHeaders(transport, target),
                  // The health step just negotiated with this very server.
                  ...(progress.contract === null ? {} : { knownEra: progress.contract.protocol.era }),
                }),
                supervisor.isRunning(colour),
              ]);
              if (!running) throw new DeployError('deploy', `The ${colour} server exited while it was being verified.`);
            }),
          );
        },
        () => supervisor.isRunning(colour),
        'verification',
      );
    });
    const watch = config.watch;
    if (watch !== undefined && watch.seconds > 0 && watch.accessLog !== undefined) {
      const accessLog = watch.accessLog;
      await runStep(context, 'watch', `Watch ${colour} through nginx for ${watch.seconds} s`, async (step) => {
        const offset = switchOffset ?? (await accessLogOffset(transport, accessLog));
        await sleep(watch.seconds * 1000);
        signal.throwIfAborted();
        const sample = await readWindow(transport, accessLog, offset, port);
        // watch.maxSlowdown compares with what the old colour served just before the switch.
        const before =
          watch.maxSlowdown === undefined ? null : await readBefore(transport, accessLog, offset, portOf(target, otherColour(colour)));
        const verdict = judge(sample, watch, before);
        if (verdict !== null) {
          throw new DeployError('deploy', `The new release misbehaved under real traffic: ${verdict}.`, {
            hint: 'Traffic was switched back; the release is marked failed. Its log is in shared/logs on the host.',
          });
        }
        step.detail(
          `${sample.requests} request(s), ${sample.errors} failed${sample.p99Ms === null ? '' : `, p99 ${Math.round(sample.p99Ms)} ms`}`,
        );
      });
    }
  } finally {
    await log.stop();
  }

  let early: FirstLook | undefined;
  // From here on the new release serves traffic: record that first, so that whatever happens
  // during the drain, the host's state says what is really serving.
  await runStep(
    context,
    'finalize',
    `Record ${release} as active`,
    async () => {
      // One command: `current`, then state.json, whose time is the host's clock (like release ids
      // and lock ages: operators' clocks may disagree). The sessions step's first look at the
      // session log goes alongside it (verify's requests are in the log by now).
      const recording = recordActive(transport, layout, {
        version: 1,
        app: config.app,
        active: { colour, port, release },
        // A restart moves the active release itself: what a rollback would go back to stays as it was.
        previous: active?.release === release ? (session.state?.previous ?? null) : (active?.release ?? null),
      });
      if (sessionsToWaitFor(session, progress)) early = startFirstLook(transport, target.nginx.sessionLog);
      await recording;
      progress.finalized = true;
    },
    { uninterruptible: true },
  );

  // From here on a stop asked for no longer undoes anything: it only cuts the waiting short.
  const hurried = await sessionsStep(session, progress, early);

  await runStep(
    context,
    'drain',
    active ? `Drain and stop ${active.colour} (${active.port})` : 'Drain the old colour',
    async (step) => {
      if (active === null) {
        step.detail('first deploy: nothing to drain');
        return;
      }
      // Requests that reached the old colour before the reload finish there: its sessions are
      // retired first, then it gets drainSeconds, then until nginx's old workers have let go of
      // their connections to it.
      const retirement = await retireAndStop(session, {
        colour: active.colour,
        port: active.port,
        // The same release on both colours (a restart): a reported release cannot tell them apart.
        release: active.release === release ? null : active.release,
        routing: progress.routing,
        includes: progress.includes,
        step,
        drain: hurried || signal.aborted ? 'short' : 'full',
        switchSettled: progress.settled,
      });
      progress.routing = retirement.routing;
      progress.includes = retirement.includes;
      const how = retirement.killed ? `ignored SIGTERM and was killed after ${stopGraceMs / 1000} s` : 'stopped';
      step.detail(
        `${active.colour} ${how}${retirement.open > 0 ? ` with ${retirement.open} connection(s) still open after the drain` : ''}`,
      );
    },
    { uninterruptible: true },
  );

  if (hooks) await hostHookStep(context, 'afterSwitch', hookRun);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
