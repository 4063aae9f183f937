import { DeployError } from '../../errors.js';
import type { Transport } from '../../remote/transport.js';
import { ensureDeps, installTitle } from '../../runtime/deps-install.js';
import type { DepsPlan, InstallDecision, InstallPlan, VenvPlan } from '../../runtime/install-plan.js';
import { ensureVenv, installTimeoutMs } from '../../runtime/venv-install.js';
import { runStep, StepSkipped } from '../../run/step.js';
import type { Session } from '../session.js';

/** Step 4: the release's dependencies, from the shared venv or install folder when its hash is already built. */
export async function installStep(session: Session, decision: InstallDecision, release: string): Promise<void> {
  const { context, transport, layout } = session;
  const { plan, problem } = decision;
  await runStep(context, 'install', 'Install dependencies', async (step) => {
    if (plan.kind === 'none') throw new StepSkipped(plan.reason);
    // Before anything runs: a host that cannot carry the plan out (no node, a node engines.node refuses) says so plainly.
    if (problem !== null) throw new DeployError('deploy', problem.message, { hint: problem.hint });
    const releaseDir = layout.releaseDir(release);
    if (plan.kind === 'command') {
      step.log(`runtime.install: ${plan.command}`);
      await runInstallCommand(transport, plan.command, releaseDir, step.log);
      step.detail('runtime.install ran');
      return;
    }
    const outcome = await ensureInstalled(session, plan, releaseDir, step.log, decision.why);
    step.detail(outcome === 'cached' ? `${describe(plan)} reused` : `${describe(plan)} built: ${builtWith(plan)}`);
  });
}

/**
 * For a rollback: the install the chosen release recorded is still there (prune keeps what kept
 * releases use), or is rebuilt from the release's own files when something removed it.
 */
export async function recheckStep(session: Session, plan: VenvPlan | DepsPlan, release: string): Promise<void> {
  const { context, layout } = session;
  const what = plan.kind === 'venv' ? 'venv' : 'dependencies';
  await runStep(context, 'install', `Check the release ${what}`, async (step) => {
    const outcome = await ensureInstalled(session, plan, layout.releaseDir(release), step.log, null);
    step.detail(outcome === 'cached' ? `${what} still there: nothing installed` : `${what} had been removed: rebuilt`);
  });
}

async function ensureInstalled(
  session: Session,
  plan: VenvPlan | DepsPlan,
  releaseDir: string,
  log: (line: string) => void,
  why: string | null,
): Promise<'cached' | 'built'> {
  const { transport, layout } = session;
  // Said only when something is built: a reused install prints nothing but its ✔ line.
  let announced = why === null;
  const lines = (line: string) => {
    if (!announced) {
      announced = true;
      log(`installing: ${why}`);
    }
    log(line);
  };
  return plan.kind === 'venv'
    ? ensureVenv(transport, layout, plan, releaseDir, lines)
    : ensureDeps(transport, layout, plan, releaseDir, lines);
}

function describe(plan: VenvPlan | DepsPlan): string {
  return plan.kind === 'venv' ? `venv ${plan.hash.slice(0, 12)}` : `${plan.paths.join(', ')} ${plan.hash.slice(0, 12)}`;
}

function builtWith(plan: VenvPlan | DepsPlan): string {
  if (plan.kind === 'deps') return installTitle(plan);
  if (!plan.needsInstall) return 'nothing to install';
  return plan.tool === 'uv' ? 'uv sync' : plan.tool === 'uv-pip' ? 'uv pip install' : 'pip install';
}

export async function runInstallCommand(
  transport: Transport,
  command: string,
  releaseDir: string,
  log: (line: string) => void,
): Promise<void> {
  const result = await transport.stream({ script: command }, { cwd: releaseDir, onLine: (line) => log(line), timeoutMs: installTimeoutMs });
  if (result.code !== 0) throw new DeployError('deploy', `runtime.install exited ${result.code}; see the log lines above.`);
}

export type { InstallPlan };
