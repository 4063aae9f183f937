import { DeployError, describeError } from '../errors.js';
import { assertSafeReleaseId } from '../host/layout.js';
import { listReleases, type Release as ReleaseInfo } from '../host/releases.js';
import { recordSteps, type EngineContext } from './context.js';
import { cutover, newProgress, recoverCutover, type CutoverProgress } from './cutover.js';
import { errorSummary, exitCodeFor, type RunSummary } from './deploy.js';
import { ensureVenv, interpreterFor, planInstall, type InstallPlan } from './steps/install.js';
import { pruneStep } from './steps/prune.js';
import { openSession, type Session } from './session.js';
import { runStep } from './step.js';

export type RollbackOptions = {
  /** The release to go back to; default: the newest good release older than the active one. */
  readonly release?: string;
  readonly force?: boolean;
};

/**
 * A zero-downtime move to an earlier release: the same cutover as a deploy (idle colour, checks,
 * switch, verify, drain), with no upload, and no install while the release's venv is still there.
 */
export async function rollback(context: EngineContext, options: RollbackOptions = {}): Promise<RunSummary> {
  const { bus, target, signal, config } = context;
  if (options.release !== undefined) assertSafeReleaseId(options.release);
  const recorder = recordSteps(bus);
  const started = performance.now();
  bus.emit({ kind: 'run:start', operation: 'rollback', target: target.name, at: Date.now() });

  let session: Session | null = null;
  let chosen: ReleaseInfo | null = null;
  let progress: CutoverProgress | null = null;
  let failure: unknown = null;
  let failedStep = 'connect';
  let serving: string | null = null;
  let rolledBack = false;
  // The step that failed first; rollback steps that run afterwards must not take its place.
  let failureSeen = false;
  const currentStep = bus.on((event) => {
    if (failureSeen) return;
    if (event.kind === 'step:start') failedStep = event.step;
    if (event.kind === 'step:failed') {
      failedStep = event.step;
      failureSeen = true;
    }
  });

  try {
    session = await openSession(context, { operation: 'rollback', force: options.force ?? false, ...(options.release ? { release: options.release } : {}) });
    const { transport, layout, supervisor, active } = session;
    serving = session.servingDescription;
    const pick = await runStep(bus, 'choose', 'Choose the release to roll back to', async (step) => {
      const releases = await listReleases(transport, layout);
      const release = chooseRelease(releases, active?.release ?? null, options.release);
      step.detail(`${release.id}${release.failed ? ' (marked failed earlier)' : ''}`);
      return release;
    });
    chosen = pick!;
    bus.emit({ kind: 'release', release: chosen.id, previous: active?.release ?? null });
    const install: InstallPlan = chosen.requirementsHash
      ? { kind: 'venv', hash: chosen.requirementsHash, requirements: config.runtime.requirements ?? 'requirements.txt', needsPip: true }
      : await planInstall(config).then((plan) => (plan.kind === 'venv' ? { kind: 'none' as const, reason: 'release records no venv' } : plan));
    if (install.kind === 'venv') {
      await runStep(bus, 'install', 'Check the release venv', async (step) => {
        const outcome = await ensureVenv(transport, layout, config, install, layout.releaseDir(chosen!.id), step.log);
        step.detail(outcome === 'cached' ? 'venv still there: nothing installed' : 'venv was pruned: rebuilt');
      });
    }
    progress = newProgress(target, active);
    await cutover(
      { context, transport, layout, supervisor, release: chosen.id, interpreter: interpreterFor(config, layout, install), active },
      progress,
    );
    serving = `release ${chosen.id} on ${progress.colour} (port ${progress.port})`;
    await pruneStep(session, bus);
  } catch (error) {
    failure = error;
    if (progress?.finalized && chosen !== null) serving = `release ${chosen.id} on ${progress.colour} (port ${progress.port})`;
    if (session !== null && chosen !== null && progress !== null && !progress.finalized) {
      rolledBack = true;
      serving = await recoverCutover(
        { context, transport: session.transport, layout: session.layout, supervisor: session.supervisor, release: chosen.id, interpreter: '', active: session.active },
        progress,
        { step: failedStep, message: describeError(error) },
        { markFailed: false },
      );
    }
  } finally {
    currentStep();
  }
  const ok = failure === null;
  const summaryError = ok ? undefined : errorSummary(failedStep, failure, signal);
  if (session !== null) {
    await session.finish({
      result: ok ? 'ok' : signal.aborted ? 'interrupted' : rolledBack ? 'rolled-back' : 'failed',
      from: session.active?.release ?? null,
      to: chosen?.id ?? options.release ?? null,
      steps: recorder.steps,
      ...(summaryError ? { error: { step: summaryError.step, message: summaryError.message } } : {}),
    });
  }
  recorder.stop();
  bus.emit({
    kind: 'run:end',
    ok,
    ms: Math.round(performance.now() - started),
    release: chosen?.id ?? options.release ?? null,
    previous: session?.active?.release ?? null,
    rolledBack,
    ...(summaryError ? { error: { step: summaryError.step, message: summaryError.message } } : {}),
  });
  return {
    ok,
    operation: 'rollback',
    target: target.name,
    release: chosen?.id ?? options.release ?? null,
    previous: session?.active?.release ?? null,
    uploadedFiles: 0,
    uploadedBytes: 0,
    linkedFiles: 0,
    steps: recorder.steps,
    rolledBack,
    serving,
    ...(summaryError ? { error: summaryError } : {}),
    exitCode: ok ? 0 : signal.aborted ? 130 : rolledBack ? 1 : exitCodeFor(failure, signal),
  };
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
