import type { HostCommand } from '../config/schema.js';
import { dumpCommand, hostCommand } from '../engine/nginx.js';
import { systemdMode } from '../engine/supervisor/create-supervisor.js';
import { privilegedSystemctlCommands } from '../engine/supervisor/systemd-unit.js';
import { arg, op, type ScriptPart } from '../remote/quote.js';
import type { RemoteCommand, RunResult } from '../remote/transport.js';
import { fail, lastLines, pass, type DoctorCheck, type HostProbe } from './doctor-check.js';
import { dumpHostCommand, identityOptions, resolvePrograms, sudoCommand, sudoersLine } from './sudo-rules.js';

/**
 * Doctor's nginx and sudo checks: nginx is there, accepts its configuration, reads the upstream
 * include the SSH user can rewrite; and every command the target runs through sudo is allowed
 * without a password (asked with `sudo -n -l`, which never prompts and runs nothing).
 */

export async function nginxChecks(probe: HostProbe): Promise<DoctorCheck[]> {
  const { nginx } = probe.target;
  const checks: DoctorCheck[] = [];
  const binary = (await resolvePrograms(probe.transport, ['nginx'])).get('nginx');
  checks.push(
    binary ? pass('nginx', `installed at ${binary}`) : fail('nginx', 'nginx is not installed', 'On the host: sudo apt-get install nginx'),
  );

  const test = await probe.run(hostCommand(nginx.test), 60_000);
  if (test.code === 0) {
    checks.push(pass('nginx.test', `${describeCommand(nginx.test)} passes`));
  } else {
    checks.push(
      fail(
        'nginx.test',
        `${describeCommand(nginx.test)} exited ${test.code}: ${lastLines(test)}`,
        nginxTestFix(test, nginx.test, binary, probe.target.name),
      ),
    );
  }

  checks.push(await reloadCheck(probe));

  const file = nginx.upstreamFile;
  const upstream = await probe.sh(
    // Absent is fine when the SSH user can create it (setup does), even in folders that do not exist yet.
    'if [ -f "$f" ]; then [ -w "$f" ] && [ -w "$(dirname "$f")" ] && echo writable || echo read-only; else d=$(dirname "$f"); while [ ! -e "$d" ]; do d=$(dirname "$d"); done; [ -d "$d" ] && [ -w "$d" ] && echo absent || echo absent-dir-read-only; fi',
    { f: file },
  );
  const state = upstream.stdout.trim();
  const user = probe.account.name;
  if (state === 'writable') checks.push(pass('upstream include', `${file} exists and ${user} can rewrite it`));
  else if (state === 'read-only')
    checks.push(
      fail(
        'upstream include',
        `${file} is not writable by ${user}`,
        `On the host: sudo chown ${user}: ${file} (and its folder, for the atomic rename)`,
      ),
    );
  else if (state === 'absent')
    checks.push(fail('upstream include', `${file} does not exist yet`, 'Run `mcp-deploy setup`: it writes the include, pointing at blue'));
  else
    checks.push(
      fail(
        'upstream include',
        `${file} does not exist and ${user} cannot create it`,
        `On the host: sudo install -d -o ${user} ${posixDirname(file)}`,
      ),
    );

  // The upstream only matters if nginx reads it: `nginx -T` prints the whole configuration.
  const dump = await probe.run(dumpCommand(nginx.test), 60_000);
  if (dump.code !== 0) {
    const denied = /permission denied|\(13:/i.test(dump.stderr);
    checks.push(
      fail(
        'nginx includes upstream',
        `${describeCommand(dumpCommand(nginx.test))} failed: ${lastLines(dump)}`,
        denied
          ? `nginx -T needs root to read the configuration: check by hand with sudo nginx -T | grep -F ${file}, or use sudo -n in nginx.test`
          : 'Fix nginx.test first; this check reuses it with -T.',
      ),
    );
  } else if (dump.stdout.includes(file)) {
    checks.push(pass('nginx includes upstream', `nginx's configuration reads ${file}`));
    checks.push(sessionPinning(dump.stdout, probe));
  } else {
    checks.push(
      fail(
        'nginx includes upstream',
        `nginx's configuration does not mention ${file}`,
        `Add "include ${file};" inside http {} (mcp-deploy setup prints a site snippet), and proxy_pass http://${nginx.upstream}`,
      ),
    );
  }
  return checks;
}

/**
 * Whether a site's location pulls in the location include: without it every request goes to the
 * active colour, and each MCP session breaks at a switch (its new colour never saw it).
 */
function sessionPinning(dump: string, probe: HostProbe): DoctorCheck {
  const { locationFile, upstream } = probe.target.nginx;
  if (dump.includes(locationFile))
    return pass('sessions pinned', `a location includes ${locationFile}: each MCP session stays on the colour that issued it`);
  return fail(
    'sessions pinned',
    `no location includes ${locationFile}: the site proxies to the single upstream, so MCP sessions are not pinned and end at every switch`,
    `In the site's location, replace "proxy_pass http://${upstream};" with "include ${locationFile};" (mcp-deploy setup prints the site), then reload nginx`,
  );
}

export async function sudoChecks(probe: HostProbe): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const { nginx } = probe.target;
  for (const [key, command] of [
    ['nginx.test', nginx.test],
    ['nginx -T', dumpHostCommand(nginx.test)],
    ['nginx.reload', nginx.reload],
  ] as const) {
    const sudo = sudoCommand(command);
    if (sudo === null) continue;
    // The dump is the test with -T: a test that sudo cannot read, or that lacks -n, is already reported once.
    if (key === 'nginx -T' && (sudo === 'unreadable' || !sudo.nonInteractive)) continue;
    const name = `sudo for ${key}`;
    if (sudo === 'unreadable') {
      const result = await probe.run(['sudo', '-n', 'true'], 15_000);
      checks.push(
        result.code === 0
          ? pass(name, 'sudo -n works')
          : fail(name, `sudo -n true: ${lastLines(result)}`, 'Give the SSH user a NOPASSWD sudoers rule for the nginx commands'),
      );
      continue;
    }
    if (!sudo.nonInteractive) {
      checks.push(
        fail(
          name,
          `"${sudo.text}" has no -n: a missing sudoers rule would wait for a password`,
          `Write it as "sudo -n ${sudo.argv.join(' ')}"`,
        ),
      );
      continue;
    }
    checks.push(await sudoRight(probe, name, [sudo.argv], identityOptions(sudo)));
  }
  if (probe.target.supervisor === 'systemd' && systemdMode(probe.target) === 'system' && probe.account.uid !== '0') {
    checks.push(await sudoRight(probe, 'sudo for systemctl', privilegedSystemctlCommands(probe.config.app, probe.target.ports), []));
  }
  return checks;
}

/** `sudo -n -l CMD` answers whether CMD may run without a password, without running it. */
async function sudoRight(
  probe: HostProbe,
  name: string,
  commands: readonly (readonly string[])[],
  identity: readonly string[],
): Promise<DoctorCheck> {
  const paths = await resolvePrograms(
    probe.transport,
    commands.map((argv) => argv[0]!),
  );
  const parts: ScriptPart[] = [op('command -v sudo >/dev/null 2>&1 || { echo "sudo is not installed" >&2; exit 127; }\nfailed=0')];
  for (const argv of commands) {
    parts.push(op('\nsudo -n -l'), ...identity.map(arg), ...argv.map(arg), op('>/dev/null || failed=1'));
  }
  parts.push(op('\nexit $failed'));
  const result = await probe.sh(parts);
  const rule = sudoersLine(probe.account.name, commands, paths);
  if (result.code === 0)
    return pass(
      name,
      `allowed without a password: ${commands
        .map((argv) => argv.join(' '))
        .slice(0, 2)
        .join(', ')}${commands.length > 2 ? ', …' : ''}`,
    );
  return fail(
    name,
    `not allowed without a password${lastLines(result) ? `: ${lastLines(result)}` : ''}`,
    `Add with visudo -f /etc/sudoers.d/mcp-deploy: ${rule}`,
  );
}

/**
 * `nginx.reload` can only work where its tool does: `systemctl` needs systemd running as PID 1,
 * which containers and some hosts do not have ("System has not been booted with systemd"). The
 * reload itself is not run (it would reload the live nginx); its tool's precondition is checked.
 */
async function reloadCheck(probe: HostProbe): Promise<DoctorCheck> {
  const { reload } = probe.target.nginx;
  const sudo = sudoCommand(reload);
  const argv = sudo !== null && sudo !== 'unreadable' ? sudo.argv : typeof reload === 'string' ? reload.trim().split(/\s+/) : reload;
  const tool = (argv[0] ?? '').split('/').pop() ?? '';
  if (tool !== 'systemctl') return pass('nginx.reload', `${describeCommand(reload)} (not run: it would reload the live nginx)`);
  const booted = await probe.sh('[ -d /run/systemd/system ] && echo systemd || echo other');
  if (booted.stdout.trim() === 'systemd') return pass('nginx.reload', `${describeCommand(reload)}: systemd runs this host`);
  const withNginx =
    typeof reload === 'string' ? reload.replace(/systemctl\s+reload\s+nginx(\.service)?/, 'nginx -s reload') : 'nginx -s reload';
  return fail(
    'nginx.reload',
    `${describeCommand(reload)} cannot work here: systemd is not running as PID 1 on this host ("System has not been booted with systemd")`,
    `Set targets.${probe.target.name}.nginx.reload to "${withNginx}" (nginx's own signal; through sudo -n if nginx runs as root)`,
  );
}

function nginxTestFix(result: RunResult, test: HostCommand, binary: string | undefined, targetName: string): string {
  const output = `${result.stderr}\n${result.stdout}`;
  if (/a password is required|terminal is required/i.test(output))
    return 'sudo wants a password: add a NOPASSWD sudoers rule for it (see the sudo check)';
  if (result.code === 127 || /not found/i.test(output)) {
    return `nginx is not on the SSH user's PATH: set targets.${targetName}.nginx.test to "${binary ?? '/usr/sbin/nginx'} -t" (and nginx.reload likewise)`;
  }
  if (/permission denied|\(13:/i.test(output) && sudoCommand(test) === null) {
    return `nginx -t needs root here: set targets.${targetName}.nginx.test to "sudo -n ${binary ?? 'nginx'} -t" and allow it in sudoers`;
  }
  return 'Fix the nginx configuration error shown, then run mcp-deploy doctor again';
}

function describeCommand(command: HostCommand | RemoteCommand): string {
  if (typeof command === 'string') return command;
  if ('script' in command) return command.script;
  return command.join(' ');
}

function posixDirname(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? '/' : path.slice(0, index);
}
