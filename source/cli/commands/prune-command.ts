import { pruneRun } from '../../engine/prune-run.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';
import { jsonSummary } from './deploy-command.js';

/** `mcp-deploy prune [--force]`: what every deploy prunes, on its own, under the lock and audited. */
export async function pruneCommand(options: GlobalOptions, output: Output): Promise<number> {
  const context = createRunContext(options, output, { plain: true });
  try {
    const summary = await pruneRun(context, { force: options.force ?? false });
    const removed = summary.removed;
    if (output.json) {
      const { ok, operation, target, serving, steps, error, exitCode } = jsonSummary(summary);
      output.document({ ok, operation, target, serving, removed, steps, ...(error ? { error } : {}), exitCode });
    } else if (removed !== null) {
      const list = (what: string, names: readonly string[]) => (names.length > 0 ? [`${what}: ${names.join(', ')}`] : []);
      const lines = [...list('releases', removed.releases), ...list('venvs', removed.venvs), ...list('leftovers', removed.garbage)];
      output.line(lines.length > 0 ? `Removed ${lines.join('; ')}.` : 'Nothing to remove.');
      if (removed.failed.length > 0) output.line(output.paint.yellow(`! Could not remove: ${removed.failed.join(', ')}`));
    }
    return summary.exitCode;
  } finally {
    context.dispose();
  }
}
