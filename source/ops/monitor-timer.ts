import { posix } from 'node:path';
import type { Config, Target } from '../config/load.js';
import { DeployError } from '../errors.js';
import { systemdMode } from '../engine/supervisor/create-supervisor.js';
import { systemctlFunctions } from '../engine/supervisor/systemd-supervisor.js';
import { hostLayout } from '../host/layout.js';
import { command } from '../remote/quote.js';

/**
 * `setup --monitor-timer [EVERY]`: `mcp-deploy monitor --once` run by a systemd timer on the host
 * itself, instead of from cron or a CI schedule elsewhere. The host gets a config of its own
 * (`<root>/monitor/mcpdeployrc.json`, mode 600: it holds the notify credentials, like
 * shared/.env holds the server's), whose target is this deploy root through the local transport,
 * and a oneshot service with its timer. mcp-deploy itself must be installed on the host.
 */

export type MonitorTimerFile = {
  readonly title: string;
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  readonly after?: { readonly what: string; readonly script: string };
};

/** systemd time spans as setup accepts them: 30s, 5min, 1h. */
export function checkTimerSpan(every: string): string {
  if (!/^\d+(s|min|h)$/.test(every)) {
    throw new DeployError('usage', `--monitor-timer: not a time span: ${JSON.stringify(every)}.`, {
      hint: 'Write it as systemd does: 30s, 5min or 1h.',
    });
  }
  return every;
}

export function monitorUnitName(app: string): string {
  return `mcp-deploy-monitor-${app}`;
}

export function hostMonitorConfigPath(target: Target): string {
  return posix.join(hostLayout(target.path).root, 'monitor', 'mcpdeployrc.json');
}

/**
 * The host's own config: this target through the local transport, with what `monitor` reads
 * (health checks, notify, the access log, the thresholds). Values are the resolved ones: the
 * host has none of the operator's environment to interpolate from.
 */
export function renderHostMonitorConfig(config: Config, target: Target): string {
  // `auth` is resolved from the top-level key, which the host's config carries itself.
  const { auth: _resolved, ...nginx } = target.nginx;
  const host = {
    app: config.app,
    runtime: config.runtime,
    health: config.health,
    ...(config.notify === undefined ? {} : { notify: config.notify }),
    ...(config.watch === undefined ? {} : { watch: config.watch }),
    monitor: config.monitor,
    ...(config.auth.apiKeys ? { auth: config.auth } : {}),
    targets: {
      [target.name]: {
        transport: 'local',
        path: target.path,
        ports: target.ports,
        publicUrl: target.publicUrl,
        nginx,
        supervisor: target.supervisor,
        systemdUser: target.systemdUser,
        lockStaleMinutes: target.lockStaleMinutes,
      },
    },
  };
  return `${JSON.stringify(host, null, 2)}\n`;
}

export function monitorTimerFiles(options: {
  readonly config: Config;
  readonly target: Target;
  readonly every: string;
  /** The SSH user, who runs the check (system units); their home for user units. */
  readonly user: string;
  readonly home: string;
  /** mcp-deploy's path on the host, or null when it is not on the PATH there. */
  readonly program: string | null;
}): MonitorTimerFile[] {
  const { config, target } = options;
  const mode = systemdMode(target);
  const unit = monitorUnitName(config.app);
  const dir = mode === 'system' ? '/etc/systemd/system' : posix.join(options.home, '.config/systemd/user');
  const configPath = hostMonitorConfigPath(target);
  const exec = command([
    ...(options.program === null ? ['/usr/bin/env', 'mcp-deploy'] : [options.program]),
    'monitor',
    '--once',
    '--config',
    configPath,
  ]);
  const service = [
    `# Written by mcp-deploy setup: one check of "${config.app}" against the monitor thresholds.`,
    '# It notifies only when the verdict changes (monitor.json in the deploy root keeps the last one).',
    '[Unit]',
    `Description=mcp-deploy monitor for ${config.app}`,
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    ...(mode === 'system' ? [`User=${options.user}`] : []),
    'Environment=CI=true',
    'Environment=MCP_DEPLOY_OPERATOR=systemd-timer',
    `ExecStart=${exec}`,
    // Exit 1 is "unhealthy": the run did its job; the unit should not count as broken for it.
    'SuccessExitStatus=1',
    '',
  ].join('\n');
  const timer = [
    `# Written by mcp-deploy setup: runs ${unit}.service every ${options.every}.`,
    '[Unit]',
    `Description=mcp-deploy monitor for ${config.app}, every ${options.every}`,
    '',
    '[Timer]',
    'OnBootSec=2min',
    `OnUnitActiveSec=${checkTimerSpan(options.every)}`,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  const functions = systemctlFunctions(mode);
  const systemctl = mode === 'user' ? 'systemctl --user' : 'systemctl';
  return [
    {
      title: "the monitor's own config on the host (mode 600: it holds the notify credentials)",
      path: configPath,
      content: renderHostMonitorConfig(config, target),
      mode: 0o600,
    },
    {
      title: `systemd ${mode === 'user' ? 'user ' : ''}service: one monitor check`,
      path: posix.join(dir, `${unit}.service`),
      content: service,
      mode: 0o644,
      after: { what: `${systemctl} daemon-reload`, script: `${functions}\nsc daemon-reload` },
    },
    {
      title: `systemd ${mode === 'user' ? 'user ' : ''}timer: the check every ${options.every}`,
      path: posix.join(dir, `${unit}.timer`),
      content: timer,
      mode: 0o644,
      after: {
        what: `${systemctl} enable --now ${unit}.timer`,
        script: `${functions}\nsc daemon-reload && sc enable --now ${command([`${unit}.timer`])}`,
      },
    },
  ];
}
