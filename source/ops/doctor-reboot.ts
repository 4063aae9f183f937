import { systemdMode } from '../engine/supervisor/create-supervisor.js';
import { systemctlFunctions } from '../engine/supervisor/systemd-supervisor.js';
import { instanceUnitName } from '../engine/supervisor/systemd-unit.js';
import { readState } from '../host/state.js';
import { arg, op } from '../remote/quote.js';
import { type DoctorCheck, type HostProbe, pass, warn } from './doctor-check.js';
import { hostRunsSystemd } from './supervisor-choice.js';

/**
 * Would the colour that serves come back after the host reboots? Only a systemd unit that is
 * enabled does (the systemd supervisor enables the serving colour's unit at every cutover); a
 * process group is gone for good. A warning, not a failure: the server runs now.
 */
export async function rebootCheck(probe: HostProbe): Promise<DoctorCheck[]> {
  const runsSystemd = await hostRunsSystemd(probe.transport);
  // An unreadable state.json is reported by every command that needs it; here it only means "unknown".
  const active = (await readState(probe.transport, probe.layout).catch(() => null))?.active ?? null;
  const serving = active === null ? 'the server' : `${active.colour} (${active.release})`;
  if (probe.target.supervisor === 'process') {
    if (runsSystemd) {
      return [
        warn(
          'reboot',
          `${serving} runs as a process group: after a reboot nothing starts it again`,
          'Run mcp-deploy setup: on a host with systemd it sets "supervisor": "systemd" and installs the unit; then mcp-deploy restart',
        ),
      ];
    }
    return [
      warn(
        'reboot',
        `this host does not run systemd: after a reboot nothing starts ${serving} again`,
        'After a reboot, mcp-deploy restart starts it again (or have the host start it at boot)',
      ),
    ];
  }
  // A systemd target on a host without systemd: the systemd check has failed already.
  if (!runsSystemd) return [];
  if (active === null) return [pass('reboot', 'nothing deployed yet; each cutover enables the unit of the colour that serves')];
  const unit = instanceUnitName(probe.config.app, active.port);
  const enabled = await probe.sh([op(`${systemctlFunctions(systemdMode(probe.target))}\nq is-enabled --quiet`), arg(unit)]);
  if (enabled.code === 0) return [pass('reboot', `${active.colour} (${unit}) is enabled: it comes back after a reboot`)];
  return [
    warn(
      'reboot',
      `${unit} serves ${active.release} but is not enabled: it would not come back after a reboot`,
      'mcp-deploy restart moves it to a unit that is enabled',
    ),
  ];
}
