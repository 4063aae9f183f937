import type { Target } from '../../config/load.js';
import type { HostLayout } from '../../host/layout.js';
import type { Transport } from '../../remote/transport.js';
import { ProcessSupervisor } from './process-supervisor.js';
import type { Supervisor } from './supervisor.js';
import { SystemdSupervisor } from './systemd-supervisor.js';
import { WithLeftoverProcesses } from './leftover-processes.js';
import type { SystemdMode } from './systemd-unit.js';

/** `warn` hears of a record that names a process we did not start, which is then left alone. */
export function createSupervisor(
  target: Target,
  transport: Transport,
  layout: HostLayout,
  app: string,
  warn?: (message: string) => void,
): Supervisor {
  if (target.supervisor === 'process') return new ProcessSupervisor(transport, layout, target.ports, warn);
  // systemd knows its units' processes by their cgroup and signals only those: no pid file to trust.
  const systemd = new SystemdSupervisor(transport, layout, { app, ports: target.ports, mode: systemdMode(target) });
  // A host that moved from the process supervisor may still run a colour that way: its pid
  // files get the same identity check before any signal.
  return new WithLeftoverProcesses(systemd, new ProcessSupervisor(transport, layout, target.ports, warn));
}

/** `systemdUser: true` runs the units under the SSH user's own manager (`systemctl --user`). */
export function systemdMode(target: Target): SystemdMode {
  // Read defensively: the key is optional, and absent from configs written before it existed.
  return (target as Target & { readonly systemdUser?: boolean }).systemdUser === true ? 'user' : 'system';
}
