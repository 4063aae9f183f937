import { describeError } from '../errors.js';
import { probeHostRuntime } from '../runtime/host-runtime.js';
import { readInstallInputs, type InstallInputs } from '../runtime/install-inputs.js';
import { decideInstall } from '../runtime/install-plan.js';
import { fail, pass, type DoctorCheck, type HostProbe } from './doctor-check.js';

/**
 * Doctor's look at what the install step will need on this host: node (against package.json's
 * engines.node) and the lockfile's package manager for a node server, and which tool builds a
 * python venv (uv when the host has it, pip otherwise). The same decision the deploy makes
 * (runtime/install-plan.ts), so doctor cannot pass a host the deploy then refuses.
 */
export async function runtimeChecks(probe: HostProbe): Promise<DoctorCheck[]> {
  let inputs: InstallInputs;
  try {
    inputs = readInstallInputs(probe.config);
  } catch (error) {
    return [
      fail('install', describeError(error), 'Fix the project files the runtime installs from (see the message), then run doctor again.'),
    ];
  }
  if (inputs.kind === 'none' || inputs.kind === 'command') return [];
  const host = await probeHostRuntime(probe.transport, probe.config, inputs);
  const decision = decideInstall(probe.config, inputs, host);
  // A bare venv needs only what the "python venv" check already looked at.
  if (decision.plan.kind === 'venv' && !decision.plan.needsInstall) return [];
  const checks: DoctorCheck[] = [];
  const { node, problem } = decision;
  if (node !== null) {
    const binary = probe.config.runtime.node;
    if (node.version === null) {
      checks.push(fail('node', `${binary} is not on the PATH of ${probe.account.name}`, problem?.hint ?? 'Install Node.js on the host.'));
      return checks;
    }
    checks.push(pass('node', `${binary} ${node.version}`));
    if (node.engines !== null) {
      checks.push(
        node.satisfied === false
          ? fail('engines.node', `${node.version} does not satisfy engines.node "${node.engines}" in package.json`, problem?.hint ?? '')
          : pass('engines.node', `${node.version} satisfies "${node.engines}"`),
      );
    }
  }
  const label = decision.plan.kind === 'venv' ? 'python install' : 'install';
  checks.push(problem !== null && node?.satisfied !== false ? fail(label, problem.message, problem.hint) : pass(label, decision.why));
  return checks;
}
