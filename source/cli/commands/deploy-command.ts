import { deploy, type RunSummary } from '../../engine/deploy.js';
import { rollback } from '../../engine/rollback.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext, type RunContext } from '../run-context.js';
import { notifyReportLines } from '../../notify/notifier.js';
import { chooseFace } from '../terminal.js';
import { runApp } from '../app-bridge.js';

/** `mcp-deploy [deploy]` and `mcp-deploy rollback [RELEASE]`. Returns the exit code. */
export async function deployCommand(options: GlobalOptions & { skipValidate?: boolean; allowBreaking?: boolean }): Promise<number> {
  const face = chooseFace({ yes: options.yes ?? false, json: options.json ?? false });
  if (face === 'app') return runApp('deploy', options);
  const context = createRunContext(options, { plain: true });
  try {
    const summary = await deploy(context, {
      force: options.force ?? false,
      skipValidate: options.skipValidate ?? false,
      allowBreaking: options.allowBreaking ?? false,
    }).finally(() => reportNotifications(context));
    return finish(summary, options, context.out);
  } finally {
    context.dispose();
  }
}

export async function rollbackCommand(release: string | undefined, options: GlobalOptions): Promise<number> {
  const face = chooseFace({ yes: options.yes ?? false, json: options.json ?? false });
  if (face === 'app') return runApp('rollback', options, release);
  const context = createRunContext(options, { plain: true });
  try {
    const summary = await rollback(context, { ...(release ? { release } : {}), force: options.force ?? false }).finally(() =>
      reportNotifications(context),
    );
    return finish(summary, options, context.out);
  } finally {
    context.dispose();
  }
}

/**
 * Waits for the run's notifications (each bounded by notify.timeoutSeconds) and prints a line per
 * failed channel. Runs even when the engine threw, so a crash is still told; never changes the exit code.
 */
async function reportNotifications(context: RunContext): Promise<void> {
  for (const line of notifyReportLines(await context.notifier.flush())) context.out.write(`${line}\n`);
}

function finish(summary: RunSummary, options: GlobalOptions, out: NodeJS.WriteStream): number {
  if (options.json) {
    // stdout holds exactly one JSON document; these field names are a public contract.
    process.stdout.write(`${JSON.stringify(jsonSummary(summary), null, 2)}\n`);
  } else if (!summary.ok) {
    out.write(`${servingLine(summary)}\n`);
  }
  return summary.exitCode;
}

/** The last line of a failed run: plainly, what serves traffic now. */
function servingLine(summary: RunSummary): string {
  if (summary.serving) return `Serving now: ${summary.serving}.`;
  // No release id means the run stopped before it changed anything on the host.
  if (summary.release === null) return `Nothing was changed on ${summary.target}.`;
  return `Nothing is serving on ${summary.target}.`;
}

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
  };
}
