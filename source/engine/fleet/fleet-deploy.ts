import { describeError } from '../../errors.js';
import { exportCommit, type Checkout } from '../../project/git-tree.js';
import { runStep } from '../../run/step.js';
import type { EngineContext } from '../context.js';
import { deploySteps } from '../declared-steps.js';
import { deployToHost, type DeployOptions, type LocalRelease, prepareLocalRelease, recoverDeploy } from '../deploy.js';
import { runOperation } from '../operation.js';
import type { Session } from '../session.js';
import { localHookEnv, localHookStep } from '../steps/hooks.js';
import type { FleetContext } from './fleet-context.js';
import type { FleetSummary } from './fleet-summary.js';
import { hostSteps, localStepsOf } from './host-steps.js';
import { announceFleetRun, endFleetRun, fleetHookOutcome } from './fleet-frame.js';
import type { StepId } from '../../run/step-ids.js';
import { preflightStep } from './preflight.js';
import { hostSide } from './host-run.js';
import { runFleet } from './rollout.js';
import { localFailure } from './local-failure.js';

/**
 * A deploy to every host of a fleet: validated, hashed and planned once here; every host locked
 * and checked before anything is sent; one release id; the bytes to every host at once (at most
 * rollout.maxConnections); then the canary and the batches, each host through the whole one-host
 * cutover. A failure anywhere halts the rollout and, by default, takes the switched hosts back.
 */
export async function deployFleet(fleet: FleetContext, options: DeployOptions = {}): Promise<FleetSummary> {
  const { base } = fleet;
  let checkout: Checkout | null = null;
  let release: string | null = null;
  const steps = deploySteps(base.config, { validate: !options.skipValidate, checkout: options.ref !== undefined });
  const elapsed = announceFleetRun(base, 'deploy', localStepsOf(steps));
  let failedStep: StepId = 'prepare';
  const stopTracking = base.bus.on((event) => {
    if (event.kind === 'step:failed') failedStep = event.step;
  });
  try {
    let run: EngineContext = base;
    let prepared: LocalRelease;
    try {
      await localHookStep(base, 'local.before', localHookEnv(base, 'deploy'));
      if (options.ref !== undefined) {
        const ref = options.ref;
        const exported = (await runStep(base, 'checkout', `Check out ${ref}`, async (step) => {
          const made = await exportCommit(base.config.source, ref);
          step.detail(`commit ${made.sha.slice(0, 7)}, exported clean`);
          return made;
        }))!;
        checkout = exported;
        run = { ...base, config: { ...base.config, source: exported.source } };
      }
      prepared = await prepareLocalRelease(run, options, checkout);
    } catch (error) {
      const summary = localFailure(fleet, 'deploy', error, failedStep);
      endFleetRun(base, summary, elapsed);
      return summary;
    } finally {
      stopTracking();
    }
    const needBytes = prepared.local.manifest.reduce((sum, entry) => sum + entry.size, 0);
    const summary = await runFleet<string, string>(
      { ...fleet, base: run },
      {
        operation: 'deploy',
        release: () => release,
        decide: async (arrived) => {
          const chosen = await oneReleaseId(
            arrived.map(({ run: host }) => host.state!.session!),
            arrived[0]!.value,
          );
          release = chosen;
          base.bus.emit({ kind: 'release', release: chosen, previous: arrived[0]!.run.state?.previous ?? null });
          return arrived.map(() => chosen);
        },
        start: (host, runId) => {
          const context = { ...host.member.context, config: run.config };
          return runOperation(
            context,
            'deploy',
            hostSteps(steps, { preflight: true }),
            (state) => {
              host.state = state;
              return deployToHost(context, state, options, prepared, {
                opened: async (session) => {
                  await hostSide.locked(host, session);
                  await preflightStep(session, needBytes);
                },
                releaseId: async (_session, candidate) => {
                  host.middle.arrived.resolve(candidate);
                  return host.middle.answer.promise;
                },
                beforeCutover: () => hostSide.ready(host),
                afterCutover: (session, state) => hostSide.switched(host, session, state),
              });
            },
            (state, failure) => recoverDeploy(context, state, failure),
            { localHooks: false, fleetRun: runId },
          );
        },
      },
    );
    await localHookStep(base, 'local.after', localHookEnv(base, 'deploy', fleetHookOutcome(summary))).catch((error: unknown) =>
      base.bus.emit({ kind: 'notice', level: 'warn', message: `hooks.local.after: ${describeError(error)}` }),
    );
    endFleetRun(base, summary, elapsed);
    return summary;
  } finally {
    await (checkout as Checkout | null)?.dispose();
  }
}

/**
 * One id for the release on every host: the first host's (its clock), with the suffix that makes
 * it free on all of them (two deploys in the same second, or clocks that disagree).
 */
async function oneReleaseId(sessions: readonly Session[], candidate: string): Promise<string> {
  for (let suffix = 1; suffix < 100; suffix += 1) {
    const id = suffix === 1 ? candidate : `${candidate}.${suffix}`;
    const taken = await Promise.all(
      sessions.map(async (session) => (await session.transport.run(['test', '-e', session.layout.releaseDir(id)])).code === 0),
    );
    if (!taken.includes(true)) return id;
  }
  throw new Error(`Could not find a release id near ${candidate} free on every host.`);
}
