import { DeployError } from '../../errors.js';
import type { HostLayout } from '../../host/layout.js';
import { arg, op, script } from '../../remote/quote.js';
import { runChecked, type RunResult, type Transport } from '../../remote/transport.js';
import type { Colour } from '../colours.js';
import type { ServerSpec, StopResult, Supervisor } from './supervisor.js';
import {
  defaultStopTimeoutSeconds,
  instanceUnitName,
  renderRunScript,
  runScriptPath,
  templateUnitName,
  type SystemdMode,
} from './systemd-unit.js';

export type SystemdSupervisorOptions = {
  readonly app: string;
  readonly ports: { readonly blue: number; readonly green: number };
  readonly mode: SystemdMode;
};

/** Exit codes of our own scripts, told apart from systemctl's. */
const notInstalled = 90;
const systemctlFailed = 91;

/**
 * Runs each colour as an instance of the template unit `<app>@.service` (see systemd-unit.ts):
 * start writes the instance's run script and restarts it, stop is `systemctl stop` (systemd
 * sends SIGTERM to the whole instance and SIGKILL after the unit's TimeoutStopSec), and an
 * instance is enabled while it runs, so the colour that serves comes back after a reboot.
 *
 * System units are changed with `sudo -n systemctl` unless the SSH user is root, so a missing
 * sudoers rule fails at once with sudo's message instead of waiting for a password. Reading
 * state (`is-active`, `show`) needs no privilege. User units (`systemdUser`) need lingering
 * (`loginctl enable-linger`) to outlive the SSH session; `mcp-deploy doctor` checks it.
 */
export class SystemdSupervisor implements Supervisor {
  readonly kind = 'systemd' as const;

  constructor(
    private readonly transport: Transport,
    private readonly layout: HostLayout,
    private readonly options: SystemdSupervisorOptions,
  ) {}

  async start(spec: ServerSpec): Promise<{ pid: number | null }> {
    const unit = instanceUnitName(this.options.app, spec.port);
    await runChecked(this.transport, ['mkdir', '-p', this.layout.runDir, this.layout.logsDir], `preparing ${unit}`);
    await this.transport.writeFileAtomic(runScriptPath(this.layout.runDir, spec.port), renderRunScript(spec, this.options.app), 0o644);
    const text = `${systemctlFunctions(this.options.mode)}
${requireLoaded}
sc reset-failed "$unit" >/dev/null 2>&1 || true
out=$(sc enable "$unit" 2>&1) || { printf '%s\\n' "$out" >&2; exit ${systemctlFailed}; }
sc restart "$unit" || exit ${systemctlFailed}
q show -p MainPID --value "$unit"`;
    // The unit name reaches the script as a variable: `unit=` cannot be built from quoted words.
    const result = await this.transport.run({ script: text }, { env: { unit }, timeoutMs: 120_000 });
    if (result.code !== 0) throw this.failure(result, `starting ${spec.colour} (${unit})`);
    const pid = Number.parseInt(result.stdout.trim().split('\n').pop() ?? '', 10);
    return { pid: Number.isFinite(pid) && pid > 0 ? pid : null };
  }

  /** `graceMs` is the unit's TimeoutStopSec here: systemd owns the SIGTERM → SIGKILL escalation. */
  async stop(colour: Colour, options: { graceMs: number }): Promise<StopResult> {
    const unit = this.unit(colour);
    // An instance whose template is not installed cannot be running: nothing to stop.
    const text = `${systemctlFunctions(this.options.mode)}
load=$(q show -p LoadState --value "$unit" 2>/dev/null)
[ "$load" = loaded ] || { echo none; exit 0; }
if q is-active --quiet "$unit"; then was=1; else was=0; fi
if q is-enabled --quiet "$unit" 2>/dev/null; then
  out=$(sc disable "$unit" 2>&1) || { printf '%s\\n' "$out" >&2; exit ${systemctlFailed}; }
fi
sc stop "$unit" || exit ${systemctlFailed}
result=$(q show -p Result --value "$unit")
if [ "$was" = 0 ]; then echo none; elif [ "$result" = timeout ]; then echo killed; else echo stopped; fi`;
    const timeoutMs = Math.max(options.graceMs, defaultStopTimeoutSeconds * 1000) + 30_000;
    const result = await this.transport.run({ script: text }, { env: { unit }, timeoutMs });
    if (result.code !== 0) throw this.failure(result, `stopping ${colour} (${unit})`);
    const outcome = result.stdout.trim().split('\n').pop();
    return { wasRunning: outcome === 'stopped' || outcome === 'killed', killed: outcome === 'killed' };
  }

  async isRunning(colour: Colour): Promise<boolean> {
    const text = script(op(`${systemctlFunctions(this.options.mode)}\nq is-active --quiet`), arg(this.unit(colour)));
    const result = await this.transport.run({ script: text }, { timeoutMs: 30_000 });
    return result.code === 0;
  }

  /** systemd's MainPID of the colour's instance; 0 (nothing runs) counts as none. */
  mainPidScript(colour: Colour): string {
    return script(
      op(`${systemctlFunctions(this.options.mode)}\npid=$(q show -p MainPID --value`),
      arg(this.unit(colour)),
      op(`2>/dev/null) || exit 1\ncase "$pid" in ''|0|*[!0-9]*) exit 1;; esac\necho "$pid"`),
    );
  }

  private unit(colour: Colour): string {
    return instanceUnitName(this.options.app, this.options.ports[colour]);
  }

  private failure(result: RunResult, what: string): DeployError {
    const detail = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('\n');
    const where = this.transport.label;
    if (result.code === notInstalled) {
      return new DeployError(
        'deploy',
        `${what} failed on ${where}: the unit ${templateUnitName(this.options.app)} is not installed (${detail}).`,
        {
          hint: 'Run `mcp-deploy setup`: it shows the unit and installs it with your consent.',
        },
      );
    }
    if (/sudo:/.test(detail)) {
      return new DeployError('deploy', `${what} failed on ${where}: sudo refused (${detail}).`, {
        hint: '`mcp-deploy setup` prints the sudoers rule for these systemctl commands; `mcp-deploy doctor` checks it.',
      });
    }
    if (/Failed to connect to bus|XDG_RUNTIME_DIR/i.test(detail)) {
      return new DeployError('deploy', `${what} failed on ${where}: no systemd manager to talk to (${detail}).`, {
        hint:
          this.options.mode === 'user'
            ? 'Enable lingering for the SSH user: sudo loginctl enable-linger <user>. `mcp-deploy doctor` checks it.'
            : 'Is systemd the init system on this host? Otherwise use "supervisor": "process".',
      });
    }
    return new DeployError('deploy', `${what} failed on ${where} (exit ${result.code})${detail ? `: ${detail}` : ''}`, {
      hint: `See why with: systemctl${this.options.mode === 'user' ? ' --user' : ''} status ${templateUnitName(this.options.app).replace('@.', '@<port>.')}`,
    });
  }
}

/**
 * `sc` changes units, `q` only reads them. For user units, a non-interactive SSH session may
 * lack XDG_RUNTIME_DIR, without which `systemctl --user` cannot find the user's manager.
 */
export function systemctlFunctions(mode: SystemdMode): string {
  if (mode === 'user') {
    return [
      'XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}"; export XDG_RUNTIME_DIR',
      'sc() { systemctl --user "$@"; }',
      'q() { systemctl --user "$@"; }',
    ].join('\n');
  }
  return ['sc() { if [ "$(id -u)" = 0 ]; then systemctl "$@"; else sudo -n systemctl "$@"; fi; }', 'q() { systemctl "$@"; }'].join('\n');
}

const requireLoaded = `load=$(q show -p LoadState --value "$unit" 2>&1)
[ "$load" = loaded ] || { printf '%s\\n' "LoadState=$load" >&2; exit ${notInstalled}; }`;
