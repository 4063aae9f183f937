import type { DeployOptions } from '../engine/deploy.js';
import { planBatches } from '../engine/fleet/batches.js';
import type { RollbackOptions } from '../engine/rollback.js';
import { notifyReportLines } from '../notify/notifier.js';
import type { FleetAppEngine } from '../ui/engine-port.js';
import type { GlobalOptions } from './options.js';
import type { Output } from './output.js';
import { importOwningSignals } from './own-signals.js';
import { createRunContext, fleetContextOf } from './run-context.js';

/**
 * The fleet's terminal app (ui/fleet-matrix.tsx) over a real run context: the matrix shows the
 * batches, `y` runs the fleet deploy or rollback, and the app's exit code is the run's.
 */
export async function runFleetApp(
  operation: 'deploy' | 'rollback',
  options: GlobalOptions,
  output: Output,
  how: { readonly deploy?: DeployOptions; readonly rollback?: RollbackOptions },
): Promise<number> {
  const context = createRunContext(options, output, { plain: false });
  try {
    const fleet = fleetContextOf(context, options);
    if (fleet === null) throw new Error('runFleetApp needs a fleet target');
    const hosts = fleet.members.map((member) => member.name);
    const engine: FleetAppEngine = {
      app: context.config.app,
      target: context.target.name,
      operation,
      hosts,
      batches: planBatches(hosts, fleet.rollout),
      // What hosts say reaches the screen masked and terminal-safe.
      events: { on: (listener) => context.bus.on((event) => listener(output.cleanDeep(event))) },
      run: async () => {
        if (operation === 'deploy') {
          const { deployFleet } = await import('../engine/fleet/fleet-deploy.js');
          return (await deployFleet(fleet, how.deploy ?? {})).exitCode;
        }
        const { rollbackFleet } = await import('../engine/fleet/fleet-rollback.js');
        return (await rollbackFleet(fleet, how.rollback ?? {})).exitCode;
      },
      interrupt: () => context.interrupt(),
    };
    const { renderFleetApp } = await importOwningSignals(() => import('../ui/render-fleet.js'));
    return await renderFleetApp(engine, { color: output.color });
  } finally {
    const notifyLines = notifyReportLines(await context.notifier.flush());
    context.dispose();
    for (const line of notifyLines) output.line(line);
  }
}
