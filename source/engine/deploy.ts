import { DeployError, describeError, isDeployError } from '../errors.js';
import { hostNow } from '../host/host-clock.js';
import { makeReleaseId } from '../host/layout.js';
import { markFailed } from '../host/releases.js';
import { formatBytes } from '../report/format.js';
import { validateOnly } from './validate-gate.js';
import { recordSteps, type EngineContext, type StepRecord } from './context.js';
import { cutover, newProgress, recoverCutover, type ActiveSide, type CutoverProgress } from './cutover.js';
import { renderEnvFile } from './env-file.js';
import { gitRevision } from './git-revision.js';
import { interpreterFor, ensureVenv, planInstall, runInstallCommand } from './steps/install.js';
import { prepareRelease, uploadRelease, type UploadResult } from './steps/upload.js';
import { runStep, StepSkipped } from './step.js';
import { openSession, type Session } from './session.js';
import { pruneStep } from './steps/prune.js';

export type RunSummary = {
  readonly ok: boolean;
  readonly operation: 'deploy' | 'rollback';
  readonly target: string;
  readonly release: string | null;
  readonly previous: string | null;
  readonly uploadedFiles: number;
  readonly uploadedBytes: number;
  readonly linkedFiles: number;
  readonly steps: readonly StepRecord[];
  readonly rolledBack: boolean;
  /** What serves traffic at the end, in words; null when nothing does. */
  readonly serving: string | null;
  readonly error?: { readonly step: string; readonly message: string; readonly hint?: string };
  /** The exit code the CLI should use. */
  readonly exitCode: number;
};

export type DeployOptions = {
  /** Break a stale lock (one whose holder is gone or that is older than lockStaleMinutes). */
  readonly force?: boolean;
  readonly skipValidate?: boolean;
};

/**
 * A whole deploy: validate locally, lock the host, upload and install the release, cut over to
 * it on the idle colour, prune, audit, unlock. A failure before the release is recorded as active
 * leaves (or puts) traffic on the old colour.
 */
export async function deploy(context: EngineContext, options: DeployOptions = {}): Promise<RunSummary> {
  const { bus, config, target, signal } = context;
  const recorder = recordSteps(bus);
  const started = performance.now();
  bus.emit({ kind: 'run:start', operation: 'deploy', target: target.name, at: Date.now() });

  let session: Session | null = null;
  let release: string | null = null;
  let active: ActiveSide = null;
  let upload: UploadResult | null = null;
  let progress: CutoverProgress | null = null;
  let failedStep = 'validate';
  let failure: unknown = null;
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
    if (!options.skipValidate) await validateOnly(context);
    const local = await runStep(bus, 'prepare', 'Hash the release files', async (step) => {
      const prepared = await prepareRelease(config);
      step.detail(`${prepared.manifest.length} files`);
      return prepared;
    });
    const install = await planInstall(config);
    const gitSha = await gitRevision(config.source);

    session = await openSession(context, { operation: 'deploy', force: options.force ?? false });
    const { transport, layout, supervisor } = session;
    active = session.active;
    serving = session.servingDescription;
    const now = await hostNow(transport);
    release = await uniqueReleaseId(session, makeReleaseId(now.stamp, gitSha));
    bus.emit({ kind: 'release', release, previous: active?.release ?? null });

    upload = (await runStep(bus, 'upload', `Upload release ${release}`, async (step) => {
      await context.checkpoint?.('upload', 'start');
      if (config.env.file !== undefined) {
        const env = await renderEnvFile(config.env.file);
        await transport.run(['mkdir', '-p', layout.sharedDir]);
        await transport.writeFileAtomic(layout.envFile, env.text, 0o600);
        step.log(`env file: ${env.names.length} variables (values not shown)`);
      }
      const result = await uploadRelease({
        transport,
        layout,
        config,
        release: release!,
        base: active?.release ?? null,
        local: local!,
        meta: { createdAt: now.iso, gitSha, operator: context.operator, requirementsHash: install.kind === 'venv' ? install.hash : null },
        step,
        signal,
      });
      step.detail(
        `${result.files} file(s) sent, ${formatBytes(result.bytes)}; ${result.linked} unchanged linked; +${result.diff.added.length} ~${result.diff.changed.length} -${result.diff.removed.length}`,
      );
      await context.checkpoint?.('upload', 'end');
      return result;
    }))!;

    await runStep(bus, 'install', 'Install dependencies', async (step) => {
      await context.checkpoint?.('install', 'start');
      signal.throwIfAborted();
      if (install.kind === 'none') throw new StepSkipped(install.reason);
      if (install.kind === 'command') {
        await runInstallCommand(transport, install.command, layout.releaseDir(release!), step.log);
        step.detail('runtime.install ran');
      } else {
        const outcome = await ensureVenv(transport, layout, config, install, layout.releaseDir(release!), step.log);
        step.detail(outcome === 'cached' ? `venv ${install.hash.slice(0, 12)} reused` : `venv ${install.hash.slice(0, 12)} built`);
      }
      await context.checkpoint?.('install', 'end');
    });

    progress = newProgress(target, active);
    await cutover(
      { context, transport, layout, supervisor, release, interpreter: interpreterFor(config, layout, install), active },
      progress,
    );
    serving = `release ${release} on ${progress.colour} (port ${progress.port})`;
    await pruneStep(session, bus);
  } catch (error) {
    failure = error;
    // Recorded as active before the failure (drain, prune): the new release serves.
    if (progress?.finalized) serving = `release ${release} on ${progress.colour} (port ${progress.port})`;
    if (session !== null && release !== null && progress !== null && !progress.finalized) {
      rolledBack = true;
      serving = await recoverCutover(
        { context, transport: session.transport, layout: session.layout, supervisor: session.supervisor, release, interpreter: '', active },
        progress,
        { step: failedStep, message: describeError(error) },
      );
    } else if (session !== null && release !== null && progress === null) {
      await cleanUpBeforeCutover(session, release, upload !== null, { step: failedStep, message: describeError(error) });
    }
  } finally {
    currentStep();
  }

  const ok = failure === null;
  const summaryError = ok ? undefined : errorSummary(failedStep, failure, signal);
  if (session !== null) {
    await session.finish({
      result: ok ? 'ok' : signal.aborted ? 'interrupted' : rolledBack ? 'rolled-back' : 'failed',
      from: active?.release ?? null,
      to: release,
      steps: recorder.steps,
      ...(summaryError ? { error: { step: summaryError.step, message: summaryError.message } } : {}),
    });
  }
  recorder.stop();
  bus.emit({
    kind: 'run:end',
    ok,
    ms: Math.round(performance.now() - started),
    release,
    previous: active?.release ?? null,
    rolledBack,
    ...(summaryError ? { error: { step: summaryError.step, message: summaryError.message } } : {}),
  });
  return {
    ok,
    operation: 'deploy',
    target: target.name,
    release,
    previous: active?.release ?? null,
    uploadedFiles: upload?.files ?? 0,
    uploadedBytes: upload?.bytes ?? 0,
    linkedFiles: upload?.linked ?? 0,
    steps: recorder.steps,
    rolledBack,
    serving,
    ...(summaryError ? { error: summaryError } : {}),
    // A deploy that was rolled back is exit 1 whatever the cause: traffic is on the old release.
    exitCode: ok ? 0 : signal.aborted ? 130 : rolledBack ? 1 : exitCodeFor(failure, signal),
  };
}

export function errorSummary(step: string, error: unknown, signal: AbortSignal): { step: string; message: string; hint?: string } {
  if (signal.aborted && !isDeployError(error)) return { step, message: 'interrupted' };
  const hint = isDeployError(error) ? error.hint : undefined;
  return { step, message: describeError(error), ...(hint ? { hint } : {}) };
}

export function exitCodeFor(error: unknown, signal: AbortSignal): number {
  if (isDeployError(error)) return error.exitCode;
  if (signal.aborted) return 130;
  return 1;
}

/**
 * A failure before anything started on the idle colour: traffic never moved. A half-made upload
 * is removed at once (it may be what filled the disk); an uploaded release whose install failed is
 * kept, marked failed, so it is never a rollback target.
 */
async function cleanUpBeforeCutover(session: Session, release: string, uploaded: boolean, failure: { step: string; message: string }): Promise<void> {
  const { transport, layout } = session;
  try {
    if (uploaded) await markFailed(transport, layout, release, failure);
    else await transport.run(['rm', '-rf', layout.partialDir(release)], { timeoutMs: 60_000 });
  } catch {
    // Best effort: prune removes what is left, and the audit log records the failure either way.
  }
}

/** Two deploys in the same second (or a clock that went back) must not collide. */
async function uniqueReleaseId(session: Session, candidate: string): Promise<string> {
  for (let suffix = 1; suffix < 100; suffix += 1) {
    const id = suffix === 1 ? candidate : `${candidate}.${suffix}`;
    const exists = await session.transport.run(['test', '-e', session.layout.releaseDir(id)]);
    if (exists.code !== 0) return id;
  }
  throw new DeployError('host-state', `Could not find a free release id near ${candidate}.`);
}


