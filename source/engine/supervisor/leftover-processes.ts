import { cmd, op, script } from '../../remote/quote.js';
import type { Colour } from '../colours.js';
import type { ProcessSupervisor } from './process-supervisor.js';
import type { ServerSpec, StopResult, Supervisor } from './supervisor.js';

/**
 * A systemd supervisor that also sees what the process supervisor left running: when a target
 * moves from `"supervisor": "process"` to `"systemd"` (setup does that on a host that runs
 * systemd), the colour that serves is still a process group with a pidfile. Stopping a colour
 * stops both, and a colour counts as running when either runs it, so the next deploy or
 * `mcp-deploy restart` moves traffic to a unit and stops the old process, with no downtime and no
 * port left taken. Without a pidfile this costs one small command on a stop, none on a start.
 */
export class WithLeftoverProcesses implements Supervisor {
  readonly kind = 'systemd' as const;

  constructor(
    private readonly systemd: Supervisor,
    private readonly leftovers: ProcessSupervisor,
  ) {}

  start(spec: ServerSpec): Promise<{ pid: number | null }> {
    return this.systemd.start(spec);
  }

  async stop(colour: Colour, options: { graceMs: number }): Promise<StopResult> {
    const [leftover, unit] = [await this.leftovers.stop(colour, options), await this.systemd.stop(colour, options)];
    return { wasRunning: leftover.wasRunning || unit.wasRunning, killed: leftover.killed || unit.killed };
  }

  async isRunning(colour: Colour): Promise<boolean> {
    return (await this.systemd.isRunning(colour)) || (await this.leftovers.isRunning(colour));
  }

  async runningRelease(colour: Colour): Promise<string | null> {
    return (await this.systemd.runningRelease?.(colour)) ?? (await this.leftovers.runningRelease(colour));
  }

  /** The unit's main pid, else the leftover process group's. */
  mainPidScript(colour: Colour): string {
    return script(cmd(['sh', '-c', this.systemd.mainPidScript(colour)]), op('||'), cmd(['sh', '-c', this.leftovers.mainPidScript(colour)]));
  }
}
