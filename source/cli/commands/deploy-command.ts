import { deploy, type RunSummary } from '../../engine/deploy.js';
import { rollback } from '../../engine/rollback.js';
import { notifyReportLines } from '../../notify/notifier.js';
import { runApp } from '../app-bridge.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext, type RunContext } from '../run-context.js';
import { chooseFace } from '../terminal.js';

export type DeployOptions = GlobalOptions & {
  readonly skipValidate?: boolean;
  readonly allowBreaking?: boolean;
  readonly ref?: string;
  readonly requireClean?: boolean;
  readonly verifyAll?: boolean;
};

/** `mcp-deploy [deploy]` and `mcp-deploy rollback [RELEASE]`. Returns the exit code. */
export async function deployCommand(options: DeployOptions, output: Output): Promise<number> {
  const face = chooseFace({ yes: options.yes ?? false, json: options.json ?? false });
  // The app plans from the working tree; a deploy of another commit runs plain, one line per step.
  if (face === 'app' && options.ref === undefined) return runApp('deploy', options, output);
  const context = createRunContext(options, output, { plain: true });
  try {
    const summary = await deploy(context, {
      force: options.force ?? false,
      skipValidate: options.skipValidate ?? false,
      allowBreaking: options.allowBreaking ?? false,
      ...(options.ref === undefined ? {} : { ref: options.ref }),
      requireClean: options.requireClean ?? false,
      verifyAll: options.verifyAll ?? false,
    }).finally(() => reportNotifications(context));
    return finish(summary, output);
  } finally {
    context.dispose();
  }
}

export async function rollbackCommand(release: string | undefined, options: GlobalOptions, output: Output): Promise<number> {
  const face = chooseFace({ yes: options.yes ?? false, json: options.json ?? false });
  if (face === 'app') return runApp('rollback', options, output, release);
  const context = createRunContext(options, output, { plain: true });
  try {
    const summary = await rollback(context, {
      ...(release ? { release } : {}),
      force: options.force ?? false,
      ...(options.envFrom ? { envFrom: options.envFrom } : {}),
    }).finally(() => reportNotifications(context));
    return finish(summary, output);
  } finally {
    context.dispose();
  }
}

/**
 * Waits for the run's notifications (each bounded by notify.timeoutSeconds) and prints a line per
 * failed channel. Runs even when the engine threw, so a crash is still told; never changes the exit code.
 */
async function reportNotifications(context: RunContext): Promise<void> {
  for (const line of notifyReportLines(await context.notifier.flush())) context.output.line(line);
}

export function finish(summary: RunSummary, output: Output): number {
  // stdout holds exactly one JSON document; its field names are a public contract.
  if (output.json) output.document(jsonSummary(summary));
  else if (!summary.ok) output.line(servingLine(summary));
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
    exitCode: summary.exitCode,
  };
}
