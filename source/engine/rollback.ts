import { DeployError } from '../errors.js';
import { assertSafeReleaseId } from '../host/layout.js';
import { listReleases, type Release as ReleaseInfo } from '../host/releases.js';
import type { EngineContext } from './context.js';
import { cutover } from './cutover.js';
import { newProgress } from './cutover-progress.js';
import { rollbackSteps } from './declared-steps.js';
import { recoverCutover } from './recover-cutover.js';
import { describeServing, type Failure, type OperationState, runOperation, type RunSummary } from './operation.js';
import { linkSharedStep } from './steps/link-shared.js';
import { recheckStep } from './steps/install.js';
import { recordedInstall } from '../runtime/install-record.js';
import { hostInterpreter, needsStartScript, startScriptOf } from '../runtime/runner.js';
import { pruneStep } from './steps/prune.js';
import { openSession, type Session } from './session.js';
import { runStep } from '../run/step.js';
import { giveEnvironment, hasOwnEnv, type EnvSource } from './rollback-env.js';

export type RollbackOptions = {
  /** The release to go back to; default: the newest good release older than the active one. */
  readonly release?: string;
  readonly force?: boolean;
  /**
   * The environment to start it with, when not the one it ran with: the active release's
   * (`active`, say after a secret was rotated), or made here from env.file and this shell's
   * variables, as a deploy makes it (`local`). It becomes the release's own from then on.
   */
  readonly envFrom?: EnvSource;
};

/**
 * A zero-downtime move to an earlier release: the same cutover as a deploy (idle colour, checks,
 * switch, verify, drain), with no upload, and no install while the release's venv or shared
 * install folder is still there.
 */
export async function rollback(context: EngineContext, options: RollbackOptions = {}): Promise<RunSummary> {
  const { config } = context;
  if (options.release !== undefined) assertSafeReleaseId(options.release);
  return runOperation(
    context,
    'rollback',
    rollbackSteps(config, options),
    (state) => rollbackOnHost(context, state, options),
    (state, failure) => recoverRollback(state, failure),
  );
}

/**
 * Where a fleet run (engine/fleet/) holds a host's rollback between its phases: once the host is
 * locked, for the release the whole fleet goes back to (null: this host already serves it), and
 * around the cutover. A one-host rollback has none.
 */
export type RollbackPhases = {
  readonly opened?: (session: Session) => Promise<void>;
  readonly choose?: (session: Session, releases: readonly ReleaseInfo[]) => Promise<ReleaseInfo | null>;
  readonly beforeCutover?: (session: Session) => Promise<void>;
  readonly afterCutover?: (session: Session, state: OperationState) => Promise<void>;
};

/** The host part of a rollback: lock, choose the release, give it its environment, cut over, prune. */
export async function rollbackOnHost(
  context: EngineContext,
  state: OperationState,
  options: RollbackOptions,
  phases: RollbackPhases = {},
): Promise<void> {
  const { bus } = context;
  const session = await openSession(context, {
    operation: 'rollback',
    force: options.force ?? false,
    ...(options.release ? { release: options.release } : {}),
  });
  state.session = session;
  const { transport, layout, active } = session;
  state.previous = active?.release ?? null;
  state.serving = session.servingDescription;
  await phases.opened?.(session);
  const chosen = (await runStep(context, 'choose', 'Choose the release to roll back to', async (step) => {
    const releases = await listReleases(transport, layout);
    const release = phases.choose
      ? await phases.choose(session, releases)
      : chooseRelease(releases, active?.release ?? null, options.release);
    if (release === null) {
      step.detail(`${active?.release ?? 'nothing'} serves already`);
      return null;
    }
    step.detail(`${release.id}${release.failed ? ' (marked failed earlier)' : ''}`);
    if (options.envFrom === undefined && !(await hasOwnEnv(transport, layout, release.id))) {
      bus.emit({
        kind: 'notice',
        level: 'warn',
        message: `${release.id} was deployed before each release kept its own environment: it starts with shared/.env, the environment of the last deploy made then. Pass --env-from active or --env-from local to choose.`,
      });
    }
    return release;
  }))!;
  if (chosen === null) return;
  state.release = chosen.id;
  bus.emit({ kind: 'release', release: chosen.id, previous: state.previous });
  const envFrom = options.envFrom;
  if (envFrom !== undefined) {
    const from = envFrom === 'active' ? `the active release${active ? ` (${active.release})` : ''}` : 'env.file and this shell';
    await runStep(session.context, 'env', `Give ${chosen.id} the environment of ${from}`, async (step) => {
      step.detail(await giveEnvironment(session, chosen.id, envFrom));
    });
  }
  await phases.beforeCutover?.(session);
  await cutOverTo(session, chosen, state);
  await phases.afterCutover?.(session, state);
  await pruneStep(session);
}

/**
 * A release already on the host, back on the idle colour through the whole cutover: its shared
 * links, its install checked, its own start script. What a rollback does once it has chosen, and
 * what a fleet does to a host it takes back after another host failed.
 */
export async function cutOverTo(session: Session, chosen: ReleaseInfo, state: OperationState): Promise<void> {
  const { transport, layout, active, context } = session;
  const { config, target } = context;
  await linkSharedStep(session, chosen.id, { deployed: false });
  const recorded = recordedInstall(chosen, {
    python: config.runtime.python,
    pipArgs: config.runtime.pip_args,
    requirements: config.runtime.requirements,
  });
  if (recorded !== null) await recheckStep(session, recorded, chosen.id);
  // The release's own start script: the local package.json may have moved on since.
  const startScript = needsStartScript(config.runtime)
    ? startScriptOf((await transport.readFile(`${layout.releaseDir(chosen.id)}/package.json`))?.toString('utf8') ?? null)
    : null;
  const progress = newProgress(target, active);
  state.progress = progress;
  const interpreter = hostInterpreter(config, layout, recorded ?? { kind: 'none', reason: 'nothing shared' });
  // Rolling back is never gated, but it warns when the target's contract differs from the active one's.
  await cutover(session, { release: chosen.id, interpreter, startScript, contractPolicy: 'warn', operation: 'rollback' }, progress);
  state.serving = describeServing(chosen.id, progress);
}

/** Undoes a rollback's unfinished cutover. */
export async function recoverRollback(state: OperationState, failure: Failure): Promise<void> {
  const { session, release, progress } = state;
  if (session === null || release === null || progress === null || progress.finalized) return;
  state.rolledBack = true;
  // A rollback target that fails again keeps its good name: it served before, the fault may be elsewhere.
  state.serving = await recoverCutover(session, release, progress, failure, { markFailed: false });
}

/** The named release, or the newest good release older than the active one (the usual target). */
export function chooseRelease(releases: readonly ReleaseInfo[], active: string | null, named: string | undefined): ReleaseInfo {
  if (named !== undefined) {
    const found = releases.find((release) => release.id === named);
    if (!found) {
      throw new DeployError('usage', `There is no release ${named} on the host.`, { hint: 'List them with: mcp-deploy releases' });
    }
    if (found.id === active) throw new DeployError('usage', `Release ${named} is already active.`);
    return found;
  }
  const activeIndex = active === null ? -1 : releases.findIndex((release) => release.id === active);
  const older = activeIndex === -1 ? releases : releases.slice(activeIndex + 1);
  const candidate = older.find((release) => release.failed === null && release.id !== active);
  if (!candidate) {
    throw new DeployError('usage', 'There is no earlier good release to roll back to.', { hint: 'List them with: mcp-deploy releases' });
  }
  return candidate;
}
