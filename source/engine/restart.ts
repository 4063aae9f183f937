import { DeployError } from '../errors.js';
import { readReleaseMeta } from '../host/releases.js';
import type { Transport } from '../remote/transport.js';
import type { HostLayout } from '../host/layout.js';
import { runStep, StepSkipped } from '../run/step.js';
import type { Config } from '../config/load.js';
import type { EngineContext } from './context.js';
import { cutover, newProgress } from './cutover.js';
import { restartSteps } from './declared-steps.js';
import { describeServing, runOperation, type RunSummary } from './operation.js';
import { recoverCutover } from './recover-cutover.js';
import { openSession } from './session.js';
import { linkSharedStep } from './steps/link-shared.js';
import { ensureVenv, type InstallPlan, interpreterFor } from './steps/install.js';

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
      const install = (await runStep(context, 'install', 'Check the release venv', async (step) => {
        const plan = await releaseInstallPlan(transport, layout, config, active.release);
        if (plan.kind === 'none') throw new StepSkipped(plan.reason);
        if (plan.kind !== 'venv') throw new StepSkipped('nothing to check');
        const outcome = await ensureVenv(transport, layout, config, plan, layout.releaseDir(active.release), step.log);
        step.detail(outcome === 'cached' ? 'venv still there: nothing installed' : 'venv was pruned: rebuilt');
        return plan;
      })) ?? { kind: 'none' as const, reason: 'no venv' };
      const progress = newProgress(target, active);
      state.progress = progress;
      // The same release: a contract that differs now is told, never a reason to stop (as in a rollback).
      await cutover(
        session,
        { release: active.release, interpreter: interpreterFor(config, layout, install), contractPolicy: 'warn' },
        progress,
      );
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

/** The venv the release was deployed with, from its release.json; none when it records none. */
async function releaseInstallPlan(transport: Transport, layout: HostLayout, config: Config, release: string): Promise<InstallPlan> {
  const hash = (await readReleaseMeta(transport, layout, release))?.requirementsHash ?? null;
  if (hash === null) return { kind: 'none', reason: `release ${release} records no venv` };
  return { kind: 'venv', hash, requirements: config.runtime.requirements ?? 'requirements.txt', needsPip: true };
}
