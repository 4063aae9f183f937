import { DeployError } from '../errors.js';
import { readReleaseMeta } from '../host/releases.js';
import type { EngineContext } from './context.js';
import { cutover } from './cutover.js';
import { newProgress } from './cutover-progress.js';
import { restartSteps } from './declared-steps.js';
import { describeServing, runOperation, type RunSummary } from './operation.js';
import { recoverCutover } from './recover-cutover.js';
import { openSession } from './session.js';
import { linkSharedStep } from './steps/link-shared.js';
import { recheckStep } from './steps/install.js';
import { recordedInstall } from '../runtime/install-record.js';
import { hostInterpreter, needsStartScript, startScriptOf } from '../runtime/runner.js';

/**
 * `mcp-deploy restart`: the active release again, started fresh on the idle colour and moved to
 * through the whole cutover (health, switch, verify, drain), so a restart drops no request. What
 * serves keeps serving if the fresh start fails. Also how a server comes back after a reboot
 * that took its colour down, and how it moves to another supervisor.
 */
export async function restart(context: EngineContext, options: { readonly force?: boolean } = {}): Promise<RunSummary> {
  const { config, target } = context;
  return runOperation(
    context,
    'restart',
    restartSteps(config),
    async (state) => {
      const session = await openSession(context, { operation: 'restart', force: options.force ?? false });
      state.session = session;
      const { transport, layout, active } = session;
      state.serving = session.servingDescription;
      if (active === null) {
        throw new DeployError('usage', `Nothing is deployed on ${target.name} yet, so there is nothing to restart.`, {
          hint: 'Deploy first: mcp-deploy',
        });
      }
      state.previous = active.release;
      state.release = active.release;
      await linkSharedStep(session, active.release, { deployed: false });
      const meta = await readReleaseMeta(transport, layout, active.release);
      const recorded =
        meta === null
          ? null
          : recordedInstall(meta, {
              python: config.runtime.python,
              pipArgs: config.runtime.pip_args,
              requirements: config.runtime.requirements,
            });
      if (recorded !== null) await recheckStep(session, recorded, active.release);
      const startScript = needsStartScript(config.runtime)
        ? startScriptOf((await transport.readFile(`${layout.releaseDir(active.release)}/package.json`))?.toString('utf8') ?? null)
        : null;
      const interpreter = hostInterpreter(config, layout, recorded ?? { kind: 'none', reason: 'nothing shared' });
      const progress = newProgress(target, active);
      state.progress = progress;
      // The same release: a contract that differs now is told, never a reason to stop (as in a rollback).
      await cutover(session, { release: active.release, interpreter, startScript, contractPolicy: 'warn', operation: 'restart' }, progress);
      state.serving = describeServing(active.release, progress);
    },
    async (state, failure) => {
      const { session, release, progress } = state;
      if (session === null || release === null || progress === null || progress.finalized) return;
      state.rolledBack = true;
      // The release served a moment ago: a failed fresh start says more about the host than about it.
      state.serving = await recoverCutover(session, release, progress, failure, { markFailed: false });
    },
  );
}
