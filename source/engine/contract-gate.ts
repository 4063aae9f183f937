import type { Contract } from '../contract/contract.js';
import { type ContractDiff, diffContracts, hasBreaking } from '../contract/diff.js';
import { exitCodes, type ExitCode } from '../errors.js';
import { readReleaseContract } from '../host/releases.js';
import { runStep, StepFailure } from '../run/step.js';
import type { Session } from './session.js';

/**
 * What a contract difference does to the run: `gate` stops a deploy with breaking changes before
 * the switch; `allow` lets them through (--allow-breaking, contract.allowBreaking, or a yes to
 * them in the terminal app); `warn` is rollback's, which never stops but says when clients may
 * have adapted to the active release's contract.
 */
export type ContractPolicy = 'gate' | 'allow' | 'warn';

/** A deploy stopped before the switch for breaking contract changes: exit code 5, the old release keeps serving. */
export class BreakingContractError extends StepFailure {
  override readonly exitCode: ExitCode = exitCodes.breakingContract;
}

/**
 * The `contract` step, between health and switch: compares the contract the new release just
 * answered with (recorded by the health step) with the active release's recorded one, tells the
 * diff (a `contract` event and the step's log), and applies `policy`. The diff lands in
 * `progress.contractDiff`, which stays null when there is nothing to compare with.
 */
export async function contractStep(
  session: Session,
  release: string,
  progress: { readonly contract: Contract | null; contractDiff: ContractDiff | null },
  policy: ContractPolicy,
  /** The active release's contract when it was read ahead (in the health step, alongside the new one's record). */
  readAhead?: () => Promise<Contract | null>,
): Promise<void> {
  const { contract } = progress;
  const { context, transport, layout, active } = session;
  const title = active === null ? 'Record the MCP contract' : `Compare the MCP contract with ${active.release}`;
  await runStep(context, 'contract', title, async (step) => {
    if (contract === null) {
      step.detail('not read: the health check did not finish a contract read');
      return null;
    }
    const before =
      active === null || active.release === release
        ? null
        : await (readAhead ?? (() => readReleaseContract(transport, layout, active.release)))();
    if (before === null) {
      step.detail(
        active === null ? 'first deploy: nothing to compare with' : `${active.release} recorded no contract; nothing to compare with`,
      );
      return null;
    }
    const diff = diffContracts(before, contract);
    // Kept before the gate decides, so a stopped deploy's --json still shows what stopped it.
    progress.contractDiff = diff;
    context.bus.emit({ kind: 'contract', against: active?.release ?? null, summary: diff.summary, changes: diff.changes });
    for (const change of diff.changes) step.log(`${change.severity}: ${change.text}`);
    if (policy === 'warn' && diff.changes.length > 0) {
      context.bus.emit({
        kind: 'notice',
        level: 'warn',
        message: `${release}'s MCP contract differs from the active ${active?.release}'s (${diff.counts.breaking} breaking, ${diff.counts.risky} risky, ${diff.counts.safe} safe): clients may have adapted to the active one.`,
      });
    }
    if (policy === 'gate' && hasBreaking(diff)) {
      const breaks = diff.changes.filter((change) => change.severity === 'breaking');
      throw new BreakingContractError(
        `${breaks.length} breaking change(s) to the MCP contract, compared with ${active?.release}; nothing was switched.`,
        breaks.map((change) => `breaking: ${change.text}`),
        {
          hint: 'Clients that call these tools, prompts or resources would fail. To deploy anyway: mcp-deploy --allow-breaking, or "contract": { "allowBreaking": true } in the config.',
        },
      );
    }
    step.detail(diff.summary);
    return diff;
  });
}
