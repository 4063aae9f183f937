import { posix } from 'node:path';
import { DeployError } from '../../errors.js';
import { composeCommand } from '../../remote/compose.js';
import { arg, op, script } from '../../remote/quote.js';
import { loadEnvScript } from '../env-file.js';
import type { ServerSpec } from './supervisor.js';

/**
 * The systemd side of `supervisor: "systemd"`: one template unit per app, `<app>@.service`, whose
 * instance name is the colour's port (`<app>@5002` is blue on the default ports).
 *
 * A template cannot know which release a colour runs, nor carry the server's command (a
 * `runtime.command` is arbitrary shell). So each instance runs a small script,
 * `<root>/run/<port>.sh`, that mcp-deploy rewrites before every start: cd into the release, load
 * the release's environment (`shared/env/<id>.env`), send output to the release's own log, exec the server. Everything in it is built
 * with quote.ts, the one quoting dialect of this codebase.
 *
 * Why not `EnvironmentFile=`: systemd's env-file parser is not sh. The env file is written in
 * sh quoting (`NAME='it'\''s'`), which systemd reads as `it''s'`; sourcing it with sh, as the
 * process supervisor does, gives every value exactly. And why not journald: the engine and
 * `mcp-deploy logs` read `shared/logs/<release>.log`, one file per release kept with a failed
 * release; appending there keeps both supervisors' logs in one place.
 */

export type SystemdMode = 'system' | 'user';

export type UnitOptions = {
  readonly app: string;
  /** The deploy root on the host. */
  readonly root: string;
  readonly mode: SystemdMode;
  /** System units only: the account the server runs as (the SSH user); omitted for root. */
  readonly user?: string;
  /** How long systemd waits after SIGTERM before SIGKILL. */
  readonly stopTimeoutSeconds?: number;
};

export const defaultStopTimeoutSeconds = 10;

export function templateUnitName(app: string): string {
  return `${app}@.service`;
}

export function instanceUnitName(app: string, port: number): string {
  return `${app}@${port}.service`;
}

/** The script instance `<app>@<port>` runs: `<root>/run/<port>.sh`. */
export function runScriptPath(runDir: string, port: number): string {
  return posix.join(runDir, `${port}.sh`);
}

/** Where the template unit lives: the system's unit folder, or the user's under `home`. */
export function unitFilePath(mode: SystemdMode, app: string, home: string): string {
  return mode === 'system'
    ? posix.join('/etc/systemd/system', templateUnitName(app))
    : posix.join(home, '.config/systemd/user', templateUnitName(app));
}

export function renderUnit(options: UnitOptions): string {
  const { app, mode } = options;
  const root = checkedUnitPath(options.root.replace(/\/+$/, '') || '/', 'the deploy root (target "path")');
  const base = root === '/' ? '' : root;
  const stopTimeout = options.stopTimeoutSeconds ?? defaultStopTimeoutSeconds;
  const user = mode === 'system' && options.user !== undefined && options.user !== 'root' ? checkedUser(options.user) : undefined;
  return [
    `# Written by mcp-deploy for "${app}". One instance per colour, named by its port: ${app}@<port>.`,
    `# What an instance runs is ${base}/run/<port>.sh, rewritten by mcp-deploy before each`,
    '# start; the server writes to shared/logs/<release>.log. Regenerate with `mcp-deploy setup`.',
    '[Unit]',
    `Description=MCP server ${app} on 127.0.0.1:%i (mcp-deploy)`,
    'After=network.target',
    // A server that keeps crashing stays down (and shows as failed) instead of restarting forever.
    'StartLimitIntervalSec=60',
    'StartLimitBurst=5',
    '',
    '[Service]',
    'Type=simple',
    ...(user === undefined ? [] : [`User=${user}`]),
    // systemd expands specifiers (%) everywhere in a unit, so a literal % is doubled.
    `ExecStart=/bin/sh ${base.replaceAll('%', '%%')}/run/%i.sh`,
    'Restart=on-failure',
    'RestartSec=2',
    // stop = SIGTERM to every process of the instance, SIGKILL after the timeout: the same
    // contract as the process supervisor's stop().
    'KillMode=control-group',
    `TimeoutStopSec=${stopTimeout}`,
    '',
    '[Install]',
    `WantedBy=${mode === 'system' ? 'multi-user.target' : 'default.target'}`,
    '',
  ].join('\n');
}

/**
 * The script an instance runs, written to `runScriptPath` before each start. Secrets are sourced
 * from the env file, so they never sit in the unit, on a command line or in `systemctl show`.
 */
export function renderRunScript(spec: ServerSpec, app: string): string {
  const server = composeCommand({ script: spec.script }, { cwd: spec.releaseDir, env: spec.env });
  return [
    `# Written by mcp-deploy: what ${instanceUnitName(app, spec.port)} (${spec.colour}) runs, release ${spec.release}.`,
    '# Rewritten at every start; do not edit.',
    loadEnvScript(spec.envFiles),
    script(op('exec >>'), arg(spec.logFile), op('2>&1 </dev/null')),
    server,
    '',
  ].join('\n');
}

/**
 * A path a unit file can hold as it is: nothing that systemd's word splitting, quoting or `$`
 * expansion would change. Deploy roots are plain paths in practice; anything else is refused
 * rather than escaped in a second dialect.
 */
function checkedUnitPath(path: string, what: string): string {
  if (!/^\/[A-Za-z0-9_@%+=:,./-]*$/.test(path)) {
    throw new DeployError('config', `${what} ${JSON.stringify(path)} cannot be used in a systemd unit.`, {
      hint: 'Use an absolute path of letters, digits and "_@%+=:,./-" (no spaces, quotes or "$"), or "supervisor": "process".',
    });
  }
  return path;
}

function checkedUser(user: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(user)) {
    throw new DeployError('config', `${JSON.stringify(user)} is not a user name a systemd unit can run as.`);
  }
  return user;
}

/** What the supervisor runs through `sudo -n` for system units (SystemdSupervisor), for the sudoers rule. */
export function privilegedSystemctlCommands(app: string, ports: { readonly blue: number; readonly green: number }): string[][] {
  const verbs = ['reset-failed', 'enable', 'restart', 'disable', 'stop'] as const;
  return [ports.blue, ports.green].flatMap((port) => verbs.map((verb) => ['systemctl', verb, instanceUnitName(app, port)]));
}
