import { describeError, exitCodes, isDeployError } from '../errors.js';
import type { ContractDiff } from '../contract/diff.js';
import { recordSteps, type EngineContext, type StepRecord } from './context.js';
import type { CutoverProgress } from './cutover-progress.js';
import type { Session } from './session.js';
import type { DeclaredStep, StepId } from '../run/step-ids.js';
import { localHookEnv, localHookStep } from './steps/hooks.js';

/** The runs that share this frame: each takes the lock, is audited, and ends in a RunSummary. */
export type RunOperation = 'deploy' | 'rollback' | 'restart' | 'prune';

/** The hooks run around deploys and rollbacks: a restart or a prune moves no release. */
function hooked(operation: RunOperation): operation is 'deploy' | 'rollback' {
  return operation === 'deploy' || operation === 'rollback';
}

export type RunSummary = {
  readonly ok: boolean;
  readonly operation: RunOperation;
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
  readonly error?: { readonly step: StepId; readonly message: string; readonly hint?: string };
  /** The new release's MCP contract compared with the active one's; null when there was nothing to compare. */
  readonly contract: ContractDiff | null;
  /** The exit code the CLI should use. */
  readonly exitCode: number;
};

/** What a run fills in as it goes, so the shared ending can audit and report it. */
export type OperationState = {
  session: Session | null;
  release: string | null;
  /** The release that served before this run. */
  previous: string | null;
  upload: { readonly files: number; readonly bytes: number; readonly linked: number } | null;
  progress: CutoverProgress | null;
  serving: string | null;
  rolledBack: boolean;
};

export type Failure = { readonly step: StepId; readonly message: string };

/**
 * How a fleet (engine/fleet/) runs a host's operation in this frame: the fleet runs the local
 * hooks once for all its hosts, and every host's audit record names the fleet run.
 */
export type FrameOptions = { readonly localHooks?: boolean; readonly fleetRun?: string };

/**
 * The frame deploy, rollback, restart and prune share: announce the run, run hooks.local.before
 * (deploys and rollbacks), remember which step failed first, let the operation undo what it must,
 * run hooks.local.after with what happened, then audit, unlock, announce the end and sum it up. The
 * exit code is decided here: an interrupted run is 130, a run that was rolled back is 1 whatever
 * the cause (traffic is on the old release), otherwise the error's own code.
 */
export async function runOperation(
  context: EngineContext,
  operation: RunOperation,
  steps: readonly DeclaredStep[],
  body: (state: OperationState) => Promise<void>,
  recover: (state: OperationState, failure: Failure, error: unknown) => Promise<void>,
  frame: FrameOptions = {},
): Promise<RunSummary> {
  const localHooks = frame.localHooks !== false;
  const { bus, target, signal } = context;
  const recorder = recordSteps(bus);
  const started = performance.now();
  bus.emit({ kind: 'run:start', operation, target: target.name, at: Date.now(), steps });
  const state: OperationState = {
    session: null,
    release: null,
    previous: null,
    upload: null,
    progress: null,
    serving: null,
    rolledBack: false,
  };

  // The step that failed first; rollback steps that run afterwards must not take its place.
  let failedStep: StepId = steps[0]?.id ?? 'connect';
  let failureSeen = false;
  const stopTracking = bus.on((event) => {
    if (failureSeen) return;
    if (event.kind === 'step:start') failedStep = event.step;
    if (event.kind === 'step:failed') {
      failedStep = event.step;
      failureSeen = true;
    }
  });

  let failure: unknown = null;
  try {
    if (localHooks && hooked(operation)) await localHookStep(context, 'local.before', localHookEnv(context, operation));
    await body(state);
  } catch (error) {
    failure = error;
    const { progress } = state;
    // Recorded as active before the failure (drain, prune): the new release serves.
    if (progress?.finalized && state.release !== null) state.serving = describeServing(state.release, progress);
    const lost = (await state.session?.lockLost()) ?? null;
    if (lost !== null) {
      // The lock was taken from this run: the host is its new holder's, and undoing what this run
      // did (nginx back, "our" colour stopped) would hit the new holder's servers. That is the
      // run's outcome, whatever failed first (a health check against the new holder's server).
      failure = lost;
      state.serving = 'unknown to this run, whose lock was taken (see: mcp-deploy status)';
    } else await recover(state, { step: failedStep, message: describeError(error) }, error);
  } finally {
    stopTracking();
  }

  const resultOf = (failed: boolean) => (!failed ? 'ok' : signal.aborted ? 'interrupted' : state.rolledBack ? 'rolled-back' : 'failed');
  // Told what happened, whatever it was; it fails a run that had succeeded, never hides an earlier failure.
  const first = failure === null ? undefined : errorSummary(failedStep, failure, signal);
  const after =
    localHooks && hooked(operation)
      ? localHookStep(
          context,
          'local.after',
          localHookEnv(context, operation, {
            result: resultOf(failure !== null),
            release: state.release,
            previous: state.previous,
            serving: state.serving,
            ...(first ? { error: { step: first.step, message: first.message } } : {}),
          }),
        )
      : Promise.resolve();
  await after.catch((error: unknown) => {
    if (failure !== null) return;
    failure = error;
    failedStep = 'hooks.local.after';
  });

  const ok = failure === null;
  const error = ok ? undefined : errorSummary(failedStep, failure, signal);
  const audited = error ? { error: { step: error.step, message: error.message } } : {};
  await state.session?.finish({
    result: resultOf(!ok),
    from: state.previous,
    to: state.release,
    steps: recorder.steps,
    ...audited,
    ...(frame.fleetRun === undefined ? {} : { fleetRun: frame.fleetRun }),
  });
  recorder.stop();
  bus.emit({
    kind: 'run:end',
    ok,
    ms: Math.round(performance.now() - started),
    release: state.release,
    previous: state.previous,
    rolledBack: state.rolledBack,
    ...audited,
  });
  return {
    ok,
    operation,
    target: target.name,
    release: state.release,
    previous: state.previous,
    uploadedFiles: state.upload?.files ?? 0,
    uploadedBytes: state.upload?.bytes ?? 0,
    linkedFiles: state.upload?.linked ?? 0,
    steps: recorder.steps,
    rolledBack: state.rolledBack,
    serving: state.serving,
    ...(error ? { error } : {}),
    contract: state.progress?.contractDiff ?? null,
    exitCode: ok ? 0 : signal.aborted ? 130 : state.rolledBack && !isBreakingContract(failure) ? 1 : exitCodeFor(failure, signal),
  };
}

export function describeServing(release: string, progress: Pick<CutoverProgress, 'colour' | 'port'>): string {
  return `release ${release} on ${progress.colour} (port ${progress.port})`;
}

function errorSummary(step: StepId, error: unknown, signal: AbortSignal): { step: StepId; message: string; hint?: string } {
  // The abort's reason says by what ("interrupted by SIGHUP"): worth keeping in the audit log.
  if (signal.aborted && !isDeployError(error))
    return { step, message: signal.reason instanceof Error ? signal.reason.message : 'interrupted' };
  const hint = isDeployError(error) ? error.hint : undefined;
  return { step, message: describeError(error), ...(hint ? { hint } : {}) };
}

/** The contract gate stops a deploy after its colour started (so it is "rolled back"), yet has its own exit code. */
function isBreakingContract(error: unknown): boolean {
  return isDeployError(error) && error.exitCode === exitCodes.breakingContract;
}

function exitCodeFor(error: unknown, signal: AbortSignal): number {
  if (isDeployError(error)) return error.exitCode;
  if (signal.aborted) return 130;
  return 1;
}
