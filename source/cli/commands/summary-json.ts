import type { RunSummary } from '../../engine/operation.js';

/** `--json` of a one-host run (deploy, rollback, restart, prune). */
export function jsonSummary(summary: RunSummary) {
  return {
    ok: summary.ok,
    operation: summary.operation,
    target: summary.target,
    release: summary.release,
    previous: summary.previous,
    uploadedFiles: summary.uploadedFiles,
    uploadedBytes: summary.uploadedBytes,
    linkedFiles: summary.linkedFiles,
    rolledBack: summary.rolledBack,
    serving: summary.serving,
    steps: summary.steps,
    // The MCP contract diff against the previously active release (docs/contract.md); null when there was nothing to compare.
    contract: summary.contract,
    ...(summary.error ? { error: summary.error } : {}),
    exitCode: summary.exitCode,
  };
}
