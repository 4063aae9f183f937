import { DeployError, describeError } from '../../errors.js';
import { localHookEnv, localHookStep } from '../steps/hooks.js';
import { localFailure } from './local-failure.js';
import { fleetHookOutcome } from './fleet-frame.js';
import { assertSafeReleaseId } from '../../host/layout.js';
import { compareNewestFirst, type Release } from '../../host/releases.js';
import { rollbackSteps } from '../declared-steps.js';
import { runOperation } from '../operation.js';
import { recoverRollback, type RollbackOptions, rollbackOnHost } from '../rollback.js';
import type { ActiveSide } from '../session.js';
import type { FleetContext } from './fleet-context.js';
import type { FleetSummary } from './fleet-summary.js';
import { hostSteps } from './host-steps.js';
import { announceFleetRun, endFleetRun } from './fleet-frame.js';
import { hostSide } from './host-run.js';
import { runFleet } from './rollout.js';

type HostReleases = { readonly releases: readonly Release[]; readonly active: ActiveSide };

/**
 * A rollback of the whole fleet to one release, in the deploy's batches: the named one, or the
 * newest good release older than the newest one serving anywhere that every host still has. A
 * host already on it stays as it is, so a fleet a killed run left mixed ends on one release.
 */
export async function rollbackFleet(fleet: FleetContext, options: RollbackOptions = {}): Promise<FleetSummary> {
  const { base } = fleet;
  if (options.release !== undefined) assertSafeReleaseId(options.release);
  let release: string | null = null;
  const steps = hostSteps(rollbackSteps(base.config, options), { preflight: false });
  const elapsed = announceFleetRun(base, 'rollback', []);
  try {
    await localHookStep(base, 'local.before', localHookEnv(base, 'rollback'));
  } catch (error) {
    const summary = localFailure(fleet, 'rollback', error, 'hooks.local.before');
    endFleetRun(base, summary, elapsed);
    return summary;
  }
  const summary = await runFleet<HostReleases, Release | null>(fleet, {
    operation: 'rollback',
    release: () => release,
    decide: async (arrived) => {
      const chosen = fleetTarget(
        arrived.map(({ run, value }) => ({ host: run.member.name, ...value })),
        options.release,
      );
      release = chosen;
      base.bus.emit({ kind: 'release', release: chosen, previous: arrived[0]?.value.active?.release ?? null });
      return arrived.map(({ value }) =>
        value.active?.release === chosen ? null : (value.releases.find((candidate) => candidate.id === chosen) ?? null),
      );
    },
    start: (host, runId) =>
      runOperation(
        host.member.context,
        'rollback',
        steps,
        (state) => {
          host.state = state;
          return rollbackOnHost(host.member.context, state, options, {
            opened: async (session) => {
              await hostSide.locked(host, session);
            },
            choose: async (session, releases) => {
              host.middle.arrived.resolve({ releases, active: session.active });
              return host.middle.answer.promise;
            },
            beforeCutover: () => hostSide.ready(host),
            afterCutover: (session, state) => hostSide.switched(host, session, state),
          });
        },
        (state, failure) => recoverRollback(state, failure),
        { localHooks: false, fleetRun: runId },
      ),
  });
  await localHookStep(base, 'local.after', localHookEnv(base, 'rollback', fleetHookOutcome(summary))).catch((error: unknown) =>
    base.bus.emit({ kind: 'notice', level: 'warn', message: `hooks.local.after: ${describeError(error)}` }),
  );
  endFleetRun(base, summary, elapsed);
  return summary;
}

/** The one release the fleet goes back to (see rollbackFleet); throws, naming the hosts, when there is none. */
export function fleetTarget(hosts: readonly ({ readonly host: string } & HostReleases)[], named: string | undefined): string {
  if (named !== undefined) {
    const missing = hosts.filter((entry) => !entry.releases.some((release) => release.id === named)).map((entry) => entry.host);
    if (missing.length > 0)
      throw new DeployError('usage', `Release ${named} is not on ${missing.join(', ')}.`, {
        hint: 'See which host has what with: mcp-deploy releases',
      });
    if (hosts.every((entry) => entry.active?.release === named))
      throw new DeployError('usage', `Release ${named} is already active on every host.`);
    return named;
  }
  const actives = hosts.flatMap((entry) =>
    entry.active === null
      ? []
      : [entry.releases.find((release) => release.id === entry.active!.release) ?? { id: entry.active.release, createdAt: null }],
  );
  const newest = [...actives].sort(compareNewestFirst)[0];
  const first = hosts[0];
  if (newest === undefined || first === undefined) throw new DeployError('usage', 'Nothing is deployed on the fleet yet.');
  const older = first.releases.filter((release) => compareNewestFirst(release, newest) > 0 && release.failed === null);
  const everywhere = older
    .sort(compareNewestFirst)
    .find((candidate) => hosts.every((entry) => entry.releases.some((release) => release.id === candidate.id && release.failed === null)));
  if (everywhere === undefined)
    throw new DeployError('usage', `There is no release older than ${newest.id} that every host has and none marked failed.`, {
      hint: 'Name one with: mcp-deploy rollback RELEASE (mcp-deploy releases shows what each host has)',
    });
  return everywhere.id;
}
