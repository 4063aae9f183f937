import { deploy, type RunSummary } from '../../engine/deploy.js';
import { rollback } from '../../engine/rollback.js';
import { notifyReportLines } from '../../notify/notifier.js';
import { runApp } from '../app-bridge.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext, fleetContextOf, type RunContext } from '../run-context.js';
import { finishFleet } from './fleet-output.js';
import { jsonSummary } from './summary-json.js';

export { jsonSummary };
import { fleetHostsFor } from '../fleet-fan-out.js';
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
  const fleetHosts = face === 'app' ? fleetHostsFor(options) : null;
  if (face === 'app' && fleetHosts !== null) {
    const { runFleetApp } = await import('../fleet-app-bridge.js');
    return runFleetApp('deploy', options, output, { deploy: deployHow(options) });
  }
  if (face === 'app' && options.ref === undefined) return runApp('deploy', options, output);
  const context = createRunContext(options, output, { plain: true });
  try {
    const how = deployHow(options);
    const fleet = fleetContextOf(context, options);
    if (fleet !== null) {
      const { deployFleet } = await import('../../engine/fleet/fleet-deploy.js');
      return finishFleet(await deployFleet(fleet, how).finally(() => reportNotifications(context)), output);
    }
    const summary = await deploy(context, how).finally(() => reportNotifications(context));
    return finish(summary, output);
  } finally {
    context.dispose();
  }
}

export async function rollbackCommand(release: string | undefined, options: GlobalOptions, output: Output): Promise<number> {
  const face = chooseFace({ yes: options.yes ?? false, json: options.json ?? false });
  const how = {
    ...(release ? { release } : {}),
    force: options.force ?? false,
    ...(options.envFrom ? { envFrom: options.envFrom } : {}),
  };
  if (face === 'app' && fleetHostsFor(options) !== null) {
    const { runFleetApp } = await import('../fleet-app-bridge.js');
    return runFleetApp('rollback', options, output, { rollback: how });
  }
  if (face === 'app') return runApp('rollback', options, output, release);
  const context = createRunContext(options, output, { plain: true });
  try {
    const fleet = fleetContextOf(context, options);
    if (fleet !== null) {
      const { rollbackFleet } = await import('../../engine/fleet/fleet-rollback.js');
      return finishFleet(await rollbackFleet(fleet, how).finally(() => reportNotifications(context)), output);
    }
    const summary = await rollback(context, how).finally(() => reportNotifications(context));
    return finish(summary, output);
  } finally {
    context.dispose();
  }
}

function deployHow(options: DeployOptions) {
  return {
    force: options.force ?? false,
    skipValidate: options.skipValidate ?? false,
    allowBreaking: options.allowBreaking ?? false,
    ...(options.ref === undefined ? {} : { ref: options.ref }),
    requireClean: options.requireClean ?? false,
    verifyAll: options.verifyAll ?? false,
  };
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
