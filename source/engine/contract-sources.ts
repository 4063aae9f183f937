import type { Contract } from '../contract/contract.js';
import { DeployError } from '../errors.js';
import { assertSafeReleaseId, hostLayout } from '../host/layout.js';
import { readReleaseContract } from '../host/releases.js';
import { readState } from '../host/state.js';
import type { Transport } from '../remote/transport.js';
import type { EngineContext } from './context.js';
import { validateRun } from './validate-gate.js';

/** Where a contract for `diff` comes from: the local tree, the active release, or a release by id. */
export type ContractSource = 'local' | 'active' | (string & {});

/**
 * The local tree's contract: the full local checks (`mcp-deploy validate`), whose server start
 * reads it through the SDK. A failed check is a validation failure, as for a deploy.
 */
export async function localContract(context: EngineContext): Promise<Contract> {
  const result = await validateRun(context, { startServer: true });
  if (!result.ok || result.contract === null) {
    throw new DeployError('validate', 'The local checks failed, so the local contract could not be read.', {
      hint: 'Fix what the checks above report (mcp-deploy validate runs them alone).',
    });
  }
  return result.contract;
}

/** A release's recorded contract: `active` is whatever state.json says serves now. */
export async function releaseContract(
  context: EngineContext,
  transport: Transport,
  source: string,
): Promise<{ readonly release: string; readonly contract: Contract }> {
  const layout = hostLayout(context.target.path);
  let release = source;
  if (source === 'active') {
    const state = await readState(transport, layout);
    if (!state?.active)
      throw new DeployError('usage', `Nothing is deployed on ${context.target.name} yet, so there is no active contract.`);
    release = state.active.release;
  }
  assertSafeReleaseId(release);
  const contract = await readReleaseContract(transport, layout, release);
  if (contract === null) {
    throw new DeployError('usage', `Release ${release} on ${context.target.name} has no recorded MCP contract.`, {
      hint: 'Releases record their contract when they pass their health checks; older releases (and failed ones) may have none. mcp-deploy releases lists what each has.',
    });
  }
  return { release, contract };
}
