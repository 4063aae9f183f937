import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, Target } from '../config/load.js';
import { describeError, isDeployError } from '../errors.js';
import { colours, type Colour } from '../engine/colours.js';
import { systemdMode } from '../engine/supervisor/create-supervisor.js';
import { identityFunctions } from '../engine/supervisor/process-identity.js';
import { systemctlFunctions } from '../engine/supervisor/systemd-supervisor.js';
import { instanceUnitName } from '../engine/supervisor/systemd-unit.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { formatBytes } from '../run/format.js';
import { createHostProbe, fail, lastLines, pass, type DoctorCheck, type HostProbe } from './doctor-check.js';
import { nginxChecks, sudoChecks } from './doctor-nginx.js';
import { inspectDeployRoot } from './deploy-root.js';
import { rebootCheck } from './doctor-reboot.js';
import { edgeChecks } from './doctor-edge.js';
import { tlsChecks } from './doctor-tls.js';
import { runtimeChecks } from './doctor-runtime.js';

export type { DoctorCheck } from './doctor-check.js';

/**
 * `mcp-deploy doctor`: is this host ready for a first deploy? Each check is data — what was
 * checked, whether it passed, what was seen, and the one thing to do about it — so the plain
 * output and a terminal view render the same list. Every remote command is bounded in time and
 * never prompts (`sudo -n`), so doctor cannot hang on a host that is not ready. The host checks
 * are here; nginx and sudo are in doctor-nginx.ts.
 */

export type DoctorInput = {
  readonly config: Config;
  readonly target: Target;
  readonly connect: () => Promise<Transport>;
};

/** Below this, a venv build or a release upload may fill the disk. */
export const minimumFreeBytes = 512 * 1024 * 1024;

export async function runDoctor(input: DoctorInput): Promise<DoctorCheck[]> {
  const { target } = input;
  let transport: Transport;
  try {
    transport = await input.connect();
  } catch (error) {
    const fix =
      isDeployError(error) && error.hint ? error.hint : 'Check host, port, user and identityFile in the target, and that the host is up.';
    return [fail('ssh', describeError(error), fix)];
  }
  try {
    const probe = await createHostProbe(transport, input.config, target);
    return [
      pass(
        'ssh',
        target.transport === 'local' ? 'local target: commands run on this machine' : `${transport.label}: logged in, host key known`,
      ),
      await deployRoot(probe),
      await diskSpace(probe),
      ...(await python(probe)),
      ...(await runtimeChecks(probe)),
      ...(await ports(probe)),
      ...(await nginxChecks(probe)),
      ...(await sudoChecks(probe)),
      ...(await systemd(probe)),
      ...(await rebootCheck(probe)),
      ...(await tools(probe)),
      ...(await tlsChecks(probe)),
      ...(await edgeChecks(probe)),
    ];
  } finally {
    await transport.close().catch(() => {});
  }
}

async function deployRoot(probe: HostProbe): Promise<DoctorCheck> {
  const root = probe.layout.root;
  const user = probe.account.name;
  const state = await inspectDeployRoot(probe.transport, root, user);
  switch (state.kind) {
    case 'exists':
      return pass('deploy root', `${root} exists and ${user} can write to it`);
    case 'creatable':
      return pass('deploy root', `${root} does not exist yet; ${user} can create it in ${state.under} (mcp-deploy setup does)`);
    case 'not-writable':
      return fail('deploy root', `${state.path} is not writable by ${user}`, state.fix);
    case 'parent-not-writable':
      return fail('deploy root', `${root} does not exist and ${user} cannot create it in ${state.under}`, state.fix);
    case 'unknown':
      return fail('deploy root', `could not check ${root}: ${state.detail}`, 'Run `ls -ld` on the path on the host to see why.');
  }
}

async function diskSpace(probe: HostProbe): Promise<DoctorCheck> {
  const result = await probe.sh('d=$root; while [ ! -e "$d" ]; do d=$(dirname "$d"); done; df -Pk "$d"', { root: probe.layout.root });
  // POSIX df -P: Filesystem 1024-blocks Used Available Capacity Mounted-on, one line per file system.
  const fields = result.stdout.trim().split('\n').pop()?.trim().split(/\s+/) ?? [];
  const available = Number(fields[3]) * 1024;
  if (result.code !== 0 || !Number.isFinite(available)) {
    return fail(
      'disk space',
      `df -Pk failed: ${lastLines(result) || `exit ${result.code}`}`,
      'Check that df (coreutils) is installed on the host.',
    );
  }
  const detail = `${formatBytes(available)} free on ${fields.slice(5).join(' ') || '?'} (${fields[0] ?? '?'})`;
  if (available >= minimumFreeBytes) return pass('disk space', detail);
  return fail(
    'disk space',
    `${detail}; at least ${formatBytes(minimumFreeBytes)} is needed for releases and venvs`,
    'Free space on that file system, or choose a deploy root on another one.',
  );
}

async function python(probe: HostProbe): Promise<DoctorCheck[]> {
  const { runtime } = probe.config;
  if (runtime.type !== 'python') return [];
  const python = runtime.python;
  const version = await probe.sh([
    op('command -v'),
    arg(python),
    op('>/dev/null 2>&1 || exit 127;'),
    arg(python),
    op(`-c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'`),
  ]);
  if (version.code !== 0) {
    return [
      fail(
        'python',
        `${python} is not on the PATH of ${probe.account.name}`,
        `On the host: sudo apt-get install python3 (or set runtime.python to the interpreter's full path)`,
      ),
    ];
  }
  const checks = [pass('python', `${python} ${version.stdout.trim()}`)];
  if (runtime.requirements === undefined && !existsSync(join(probe.config.source, 'pyproject.toml'))) return checks;
  // A real venv with pip, as the install step builds it: Debian's python3 lacks ensurepip without python3-venv.
  const venv = await probe.sh(
    [
      op('d=$(mktemp -d) || exit 1; trap \'rm -rf "$d"\' EXIT;'),
      arg(python),
      op(
        '-m venv "$d/venv" >"$d/log" 2>&1 && "$d/venv/bin/python" -m pip --version >>"$d/log" 2>&1; code=$?; tail -n 3 "$d/log"; exit $code',
      ),
    ],
    {},
    180_000,
  );
  checks.push(
    venv.code === 0
      ? pass('python venv', `${python} -m venv works, with pip`)
      : fail(
          'python venv',
          `${python} -m venv failed: ${lastLines(venv)}`,
          'On the host: sudo apt-get install python3-venv (Debian and Ubuntu ship venv without ensurepip)',
        ),
  );
  return checks;
}

async function ports(probe: HostProbe): Promise<DoctorCheck[]> {
  return Promise.all(colours.map((colour) => port(probe, colour)));
}

async function port(probe: HostProbe, colour: Colour): Promise<DoctorCheck> {
  const port = probe.target.ports[colour];
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const systemd = probe.target.supervisor === 'systemd';
  const ours = systemd
    ? script(op('q is-active --quiet'), arg(instanceUnitName(probe.config.app, port)))
    : script(op('identify'), arg(probe.layout.pidFile(colour)), arg(probe.layout.root), arg(String(port)));
  // Listening sockets (state 0A) from /proc, so neither ss nor netstat is needed; ss only adds
  // the owner's name, when it may see it.
  const result = await probe.sh(
    `${systemd ? systemctlFunctions(systemdMode(probe.target)) : identityFunctions}\nif ! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$2 ~ p"$" && $4 == "0A" { found = 1 } END { exit !found }'; then echo free; exit 0; fi
if ${ours}; then echo ours; exit 0; fi
echo taken; ss -ltnpH 2>/dev/null | awk -v p=":$port" '$4 ~ p"$" && $NF ~ /^users:/ { print $NF; exit }'`,
    { hex, port: String(port) },
  );
  const [verdict = '', owner = ''] = result.stdout.trim().split('\n');
  const name = `port ${colour}`;
  if (verdict === 'free') return pass(name, `${port} is free`);
  if (verdict === 'ours') return pass(name, `${port} is in use by this app's ${colour} server`);
  return fail(
    name,
    `${port} is taken by another process${owner ? ` (${owner})` : ''}`,
    `Find it on the host with: ss -ltnp 'sport = :${port}' — stop it, or set targets.${probe.target.name}.ports.${colour} to a free port`,
  );
}

async function systemd(probe: HostProbe): Promise<DoctorCheck[]> {
  if (probe.target.supervisor !== 'systemd') return [];
  const mode = systemdMode(probe.target);
  const init = await probe.sh('[ -d /run/systemd/system ] && systemctl --version | head -n 1');
  if (init.code !== 0) {
    return [fail('systemd', 'systemd is not running as the init system on this host', 'Use "supervisor": "process" for this target')];
  }
  const checks = [pass('systemd', init.stdout.trim())];
  if (mode === 'user') {
    const linger = await probe.sh('loginctl show-user "$(id -un)" -p Linger --value 2>&1');
    checks.push(
      linger.stdout.trim() === 'yes'
        ? pass('systemd linger', `${probe.account.name}'s user units keep running after logout`)
        : fail(
            'systemd linger',
            `lingering is off for ${probe.account.name}: user units stop when the SSH session ends`,
            `On the host: sudo loginctl enable-linger ${probe.account.name}`,
          ),
    );
  }
  const unit = instanceUnitName(probe.config.app, probe.target.ports.blue);
  const load = await probe.sh([op(`${systemctlFunctions(mode)}\nq show -p LoadState --value`), arg(unit), op('2>&1')]);
  checks.push(
    load.stdout.trim() === 'loaded'
      ? pass('systemd unit', `${probe.config.app}@.service is installed`)
      : fail(
          'systemd unit',
          `${probe.config.app}@.service is not installed (${load.stdout.trim() || `exit ${load.code}`})`,
          'Run `mcp-deploy setup`: it shows the unit and installs it',
        ),
  );
  return checks;
}

async function tools(probe: HostProbe): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  if (probe.target.supervisor === 'process') {
    const setsid = await probe.sh('command -v setsid');
    checks.push(
      setsid.code === 0
        ? pass('setsid', setsid.stdout.trim())
        : fail(
            'setsid',
            'setsid is missing (the process supervisor starts each colour with it)',
            'On the host: sudo apt-get install util-linux',
          ),
    );
  }
  // `current` is switched with `mv -T` (one rename over the old link); BusyBox and BSD mv lack -T.
  const mv = await probe.sh(
    'd=$(mktemp -d) || exit 1; trap \'rm -rf "$d"\' EXIT; ln -s a "$d/x" && ln -s b "$d/y" && mv -T "$d/y" "$d/x" 2>&1 && [ "$(readlink "$d/x")" = b ]',
  );
  checks.push(
    mv.code === 0
      ? pass('mv -T', 'supported')
      : fail(
          'mv -T',
          `mv -T does not work: ${lastLines(mv) || `exit ${mv.code}`}`,
          'Install GNU coreutils on the host (BusyBox and BSD mv lack -T)',
        ),
  );
  return checks;
}
