import { DeployError } from '../errors.js';
import { makeReleaseId } from '../host/layout.js';
import { markFailed } from '../host/releases.js';
import { removeTree } from '../host/remove-tree.js';
import { validateOnly } from './validate-gate.js';
import { buildStep } from './steps/build.js';
import type { EngineContext } from './context.js';
import { cutover } from './cutover.js';
import { newProgress } from './cutover-progress.js';
import { deploySteps } from './declared-steps.js';
import { recoverCutover } from './recover-cutover.js';
import { releaseEnvWrite, renderServerEnv } from './env-file.js';
import { describeServing, type OperationState, runOperation, type Failure, type RunSummary } from './operation.js';
import { type Checkout, exportCommit, type SourceRevision, sourceRevision } from '../project/git-tree.js';
import { installStep } from './steps/install.js';
import { readReleaseInstall, withInstallLinks } from './release-install.js';
import { decideInstall } from '../runtime/install-plan.js';
import { recordOf } from '../runtime/install-record.js';
import { probeHostRuntime } from '../runtime/host-runtime.js';
import { hostInterpreter } from '../runtime/runner.js';
import { prepareRelease, uploadDetail, uploadRelease } from './steps/upload.js';
import { runStep } from '../run/step.js';
import { openSession, type Session } from './session.js';
import { linkSharedStep } from './steps/link-shared.js';
import { pruneStep } from './steps/prune.js';

export type { RunSummary } from './operation.js';

export type DeployOptions = {
  /** Break a stale lock (one whose holder is gone or that is older than lockStaleMinutes). */
  readonly force?: boolean;
  readonly skipValidate?: boolean;
  /** Let breaking MCP contract changes through (also `contract.allowBreaking` in the config). */
  readonly allowBreaking?: boolean;
  /** Deploy this commit (a sha, branch or tag) from a clean export of it instead of the working tree. */
  readonly ref?: string;
  /** Refuse to deploy uncommitted changes (which otherwise make a `-dirty` release, with a warning). */
  readonly requireClean?: boolean;
  /** Check the sha256 of every file of the new release on the host, not only of the files sent. */
  readonly verifyAll?: boolean;
};

/**
 * A whole deploy: validate locally, lock the host, upload and install the release, cut over to
 * it on the idle colour, prune, audit, unlock. A failure before the release is recorded as active
 * leaves (or puts) traffic on the old colour.
 */
export async function deploy(context: EngineContext, options: DeployOptions = {}): Promise<RunSummary> {
  const { ref } = options;
  let checkout: Checkout | null = null;
  try {
    return await runOperation(
      context,
      'deploy',
      deploySteps(context.config, { validate: !options.skipValidate, checkout: ref !== undefined }),
      async (state) => {
        // With --ref, everything from here on works on the export: validate, hash, upload.
        let run = context;
        if (ref !== undefined) {
          const exported = (await runStep(context, 'checkout', `Check out ${ref}`, async (step) => {
            const made = await exportCommit(context.config.source, ref);
            step.detail(`commit ${made.sha.slice(0, 7)}, exported clean`);
            return made;
          }))!;
          checkout = exported;
          run = { ...context, config: { ...context.config, source: exported.source } };
        }
        await deployRelease(run, state, options, checkout);
      },
      (state, failure) => recoverDeploy(context, state, failure),
    );
  } finally {
    await (checkout as Checkout | null)?.dispose();
  }
}

async function deployRelease(
  context: EngineContext,
  state: OperationState,
  options: DeployOptions,
  checkout: Checkout | null,
): Promise<void> {
  await deployToHost(context, state, options, await prepareLocalRelease(context, options, checkout));
}

/** What a deploy ships, made once on this machine: the hashed files, and what their install needs. */
export type LocalRelease = {
  readonly local: Awaited<ReturnType<typeof prepareRelease>>;
  readonly gitSha: string | null;
  readonly dirty: boolean;
} & ReturnType<typeof readReleaseInstall>;

/** The local part of a deploy: build and validate (or only build), then hash the release files. */
export async function prepareLocalRelease(
  context: EngineContext,
  options: DeployOptions,
  checkout: Checkout | null,
): Promise<LocalRelease> {
  const { bus, config } = context;
  // validateOnly builds first; without it the build still runs: it makes what ships.
  if (!options.skipValidate) await validateOnly(context);
  else await buildStep(context);
  return (await runStep(context, 'prepare', 'Hash the release files', async (step) => {
    const revision = checkout === null ? await sourceRevision(config) : { sha: checkout.sha, changed: [] };
    const dirty = checkDirty(revision, options, config.source, (message) => bus.emit({ kind: 'notice', level: 'warn', message }));
    const prepared = await prepareRelease(config);
    const install = readReleaseInstall(config, prepared.manifest);
    step.detail(
      `${prepared.manifest.length} files${revision.sha === null ? '' : `; commit ${revision.sha.slice(0, 7)}${dirty ? ' with uncommitted changes' : ''}`}`,
    );
    return { local: prepared, gitSha: revision.sha?.slice(0, 7) ?? null, dirty, ...install };
  }))!;
}

/**
 * Where a fleet run (engine/fleet/) holds a host's deploy between its phases: once the host is
 * locked, for the one release id of the whole fleet, before the cutover (the host's batch turn)
 * and after it (keep the release, or go back when another host failed). A one-host deploy has none.
 */
export type HostPhases = {
  readonly opened?: (session: Session) => Promise<void>;
  readonly releaseId?: (session: Session, candidate: string) => Promise<string>;
  readonly beforeCutover?: (session: Session) => Promise<void>;
  readonly afterCutover?: (session: Session, state: OperationState) => Promise<void>;
};

/** The host part of a deploy: lock, upload, link, install, cut over, prune. */
export async function deployToHost(
  context: EngineContext,
  state: OperationState,
  options: DeployOptions,
  prepared: LocalRelease,
  phases: HostPhases = {},
): Promise<void> {
  const { bus, config, target, signal } = context;
  const { local, gitSha, dirty, inputs, startScript } = prepared;

  const session = await openSession(context, { operation: 'deploy', force: options.force ?? false });
  state.session = session;
  const { transport, layout, active } = session;
  state.previous = active?.release ?? null;
  state.serving = session.servingDescription;
  await phases.opened?.(session);
  // The host's clock when the lock was taken: no round trip of its own.
  const candidate = makeReleaseId(session.lockedAt.stamp, gitSha, { dirty });
  const release = phases.releaseId ? await phases.releaseId(session, candidate) : uniqueReleaseId(session, candidate);
  state.release = release;
  bus.emit({ kind: 'release', release, previous: state.previous });
  const decision = decideInstall(config, inputs, await probeHostRuntime(transport, config, inputs));
  const { plan } = decision;

  state.upload = (await runStep(session.context, 'upload', `Upload release ${release}`, async (step) => {
    // Rendered before anything is sent: an unreadable env.file stops the run with nothing uploaded.
    const env = await renderServerEnv(config);
    const result = await uploadRelease({
      transport,
      layout,
      config,
      release,
      base: active?.release ?? null,
      local: withInstallLinks(local, layout, plan, release),
      meta: {
        createdAt: session.lockedAt.iso,
        gitSha,
        operator: context.operator,
        requirementsHash: plan.kind === 'venv' ? plan.hash : null,
        install: recordOf(plan),
      },
      step,
      signal,
      verifyAll: options.verifyAll ?? false,
      // The release's own environment, beside it and never inside it: a failed deploy with a new
      // secret leaves every other release's environment as it was. Written as it is published.
      afterPublish: releaseEnvWrite(layout, release, env?.text ?? null),
    });
    step.log(`server environment: ${env === null ? 'none' : env.names.join(', ') || 'empty'} (values not shown)`);
    step.detail(uploadDetail(result));
    return result;
  }))!;

  await linkSharedStep(session, release, { deployed: true });
  await installStep(session, decision, release);
  await phases.beforeCutover?.(session);

  const progress = newProgress(target, active);
  state.progress = progress;
  const contractPolicy = options.allowBreaking || config.contract.allowBreaking ? 'allow' : 'gate';
  await cutover(
    session,
    { release, interpreter: hostInterpreter(config, layout, plan), startScript, contractPolicy, operation: 'deploy' },
    progress,
  );
  state.serving = describeServing(release, progress);
  await phases.afterCutover?.(session, state);
  await pruneStep(session);
}

/** Undoes what a failed deploy left: the cutover, or the upload when nothing had started yet. */
export async function recoverDeploy(context: EngineContext, state: OperationState, failure: Failure): Promise<void> {
  const { signal } = context;
  const { session, release, progress } = state;
  if (session === null || release === null) return;
  if (progress !== null && !progress.finalized) {
    state.rolledBack = true;
    // An operator's Ctrl-C says nothing about the release: it is undone, not marked failed.
    state.serving = await recoverCutover(session, release, progress, failure, { markFailed: !signal.aborted });
  } else if (progress === null) {
    await cleanUpBeforeCutover(session, release, { uploaded: state.upload !== null, markFailed: !signal.aborted }, failure);
  }
}

/**
 * Uncommitted changes that would ship make the release `<stamp>-<sha>-dirty` (it is not that
 * commit), with a warning; `requireClean` refuses them, and a source outside git, whose
 * cleanliness nobody can tell. Returns whether the release is dirty.
 */
function checkDirty(revision: SourceRevision, options: DeployOptions, source: string, warn: (message: string) => void): boolean {
  if (options.requireClean && revision.sha === null) {
    throw new DeployError('validate', `--require-clean: ${source} is not in a git checkout, so there is no commit to compare it with.`, {
      hint: 'Deploy without --require-clean, or from a git checkout.',
    });
  }
  if (revision.sha === null || revision.changed.length === 0) return false;
  const shown = revision.changed.slice(0, 5).join(', ') + (revision.changed.length > 5 ? `, and ${revision.changed.length - 5} more` : '');
  const short = revision.sha.slice(0, 7);
  if (options.requireClean) {
    throw new DeployError('validate', `The source has uncommitted changes that would ship (${shown}); --require-clean refuses them.`, {
      hint: `Commit or stash them, or deploy a commit as it is: mcp-deploy --ref ${short}`,
    });
  }
  warn(
    `Uncommitted changes ship with this release (${shown}): its id ends in -dirty, as it is not commit ${short}. Commit them, or deploy a commit with --ref; --require-clean refuses this.`,
  );
  return true;
}

/**
 * A failure before anything started on the idle colour: traffic never moved. A half-made upload
 * is removed at once (it may be what filled the disk); an uploaded release whose install failed is
 * kept, marked failed, so it is never a rollback target (unless the operator interrupted it).
 */
async function cleanUpBeforeCutover(
  session: Session,
  release: string,
  how: { readonly uploaded: boolean; readonly markFailed: boolean },
  failure: Failure,
): Promise<void> {
  const { transport, layout } = session;
  try {
    if (!how.uploaded) await transport.run(removeTree(layout.partialDir(release)), { timeoutMs: 60_000 });
    else if (how.markFailed) await markFailed(transport, layout, release, failure);
  } catch {
    // Best effort: prune removes what is left, and the audit log records the failure either way.
  }
}

/**
 * Two deploys in the same second (or a clock that went back) must not collide. The ids already
 * taken in the lock's second were listed when the lock was taken, and the candidate starts with
 * that second's stamp.
 */
function uniqueReleaseId(session: Session, candidate: string): string {
  for (let suffix = 1; suffix < 100; suffix += 1) {
    const id = suffix === 1 ? candidate : `${candidate}.${suffix}`;
    if (!session.sameSecondReleases.has(id)) return id;
  }
  throw new DeployError('host-state', `Could not find a free release id near ${candidate}.`);
}
