import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envFilesFor, renderServerEnv } from '../../source/engine/env-file.js';
import { SystemdSupervisor } from '../../source/engine/supervisor/systemd-supervisor.js';
import { renderUnit, runScriptPath, templateUnitName, type SystemdMode } from '../../source/engine/supervisor/systemd-unit.js';
import type { ServerSpec } from '../../source/engine/supervisor/supervisor.js';
import { DeployError } from '../../source/errors.js';
import { hostLayout } from '../../source/host/layout.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { deploy } from '../../source/engine/deploy.js';
import { addTool, createWorld, type World } from '../e2e/world.js';
import { nginxSkipReason } from '../harness/index.js';
import { exec, isExecutable } from '../harness/system.js';
import { waitFor } from '../harness/wait.js';

/**
 * The systemd supervisor's unit and how it is driven. The generated units are checked by the real
 * `systemd-analyze verify`. This machine has no systemd as init, so the supervisor's systemctl
 * calls are checked against a stand-in `systemctl` that runs the real generated unit's ExecStart:
 * the run script, the env file, the release log and the stop contract are all exercised for real.
 */

const analyze = '/usr/bin/systemd-analyze';
// As with sshd and nginx, CI never skips: a missing systemd-analyze there must fail the run.
const analyzeSkip = process.env['CI'] || isExecutable(analyze) ? undefined : `${analyze} is not installed (apt-get install systemd)`;
if (analyzeSkip) console.warn(`SKIPPING systemd-analyze verify: ${analyzeSkip}`);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'mcpd-systemd-'));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(analyzeSkip !== undefined)(`the generated unit${analyzeSkip ? ` (skipped: ${analyzeSkip})` : ''}`, () => {
  async function verify(mode: SystemdMode, unitText: string, app: string): Promise<{ code: number; output: string }> {
    const dir = join(scratch, `verify-${mode}`);
    await mkdir(join(dir, 'xdg'), { recursive: true });
    await chmod(join(dir, 'xdg'), 0o700);
    const file = join(dir, templateUnitName(app));
    await writeFile(file, unitText);
    // `path:instance` verifies the template as a concrete instance, as systemd would start it.
    const args = ['--man=no', ...(mode === 'user' ? ['--user'] : []), 'verify', `${file}:${app}@5002.service`];
    const result = await execWithEnv(analyze, args, { XDG_RUNTIME_DIR: join(dir, 'xdg') });
    return { code: result.code, output: `${result.stdout}${result.stderr}`.trim() };
  }

  it('passes systemd-analyze verify as a system unit run by the SSH user, without a single warning', async () => {
    // Given the unit for a system-wide install
    const unit = renderUnit({ app: 'ontology', root: '/srv/mcp/ontology', mode: 'system', user: userInfo().username });

    // Then systemd's own checker accepts it and says nothing
    expect(unit).toContain('ExecStart=/bin/sh /srv/mcp/ontology/run/%i.sh');
    expect(unit).toContain('Restart=on-failure');
    expect(unit).toContain('WantedBy=multi-user.target');
    expect(await verify('system', unit, 'ontology')).toEqual({ code: 0, output: '' });
  });

  it('passes systemd-analyze verify as a user unit', async () => {
    const unit = renderUnit({ app: 'ontology', root: '/home/deploy/mcp', mode: 'user', user: 'deploy' });
    expect(unit).not.toContain('User=');
    expect(unit).toContain('WantedBy=default.target');
    expect(await verify('user', unit, 'ontology')).toEqual({ code: 0, output: '' });
  });

  it('doubles a % in the deploy root, so systemd does not take it for a specifier', async () => {
    const unit = renderUnit({ app: 'ontology', root: '/srv/100%/app', mode: 'system' });
    expect(unit).toContain('ExecStart=/bin/sh /srv/100%%/app/run/%i.sh');
    expect(await verify('system', unit, 'ontology')).toEqual({ code: 0, output: '' });
  });
});

describe('the unit refuses what it cannot carry', () => {
  it.each([['/srv/my app'], ['/srv/$HOME'], ['/srv/"x"'], ['relative/path']])(
    'a deploy root of %s is a config error naming the fix',
    (root) => {
      expect(() => renderUnit({ app: 'ontology', root, mode: 'system' })).toThrow(DeployError);
      expect(() => renderUnit({ app: 'ontology', root, mode: 'system' })).toThrow(/cannot be used in a systemd unit/);
    },
  );
});

const nginxSkip = await nginxSkipReason();
const deploySkip = process.getuid?.() !== 0 ? 'system units need root here (sudo would not find the stand-in systemctl)' : nginxSkip;

describe.skipIf(deploySkip !== undefined)(`deploys with supervisor "systemd"${deploySkip ? ` (skipped: ${deploySkip})` : ''}`, () => {
  let world: World;
  let fake: string;
  let uninstall: () => void;

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    fake = join(scratch, 'fake-deploy');
    uninstall = await installFakeSystemctl(fake);
    await writeFile(join(fake, 'units', templateUnitName('world')), renderUnit({ app: 'world', root: world.hostRoot, mode: 'system' }));
  }, 60_000);

  afterAll(async () => {
    if (fake) await killInstances(fake, 'world', [world.ports.blue, world.ports.green]);
    uninstall?.();
    await world?.stop();
  });

  it('a first deploy starts the blue instance; the next one moves traffic to green and stops blue', async () => {
    // Given a host with the generated unit installed
    const config = world.config({}, { supervisor: 'systemd' });
    const blue = `world@${world.ports.blue}.service`;
    const green = `world@${world.ports.green}.service`;

    // When the first release is deployed
    const first = await deploy(world.context({ config }).context);

    // Then the blue instance serves it through nginx, enabled for boot, logging to the release's log
    expect(first.error).toBeUndefined();
    expect(await settledRelease(world, first.release)).toBe(first.release);
    expect(await readFile(join(fake, 'calls'), 'utf8')).toContain(`restart ${blue}`);
    expect(await exec('systemctl', ['is-enabled', '--quiet', blue])).toMatchObject({ code: 0 });
    expect((await readFile(join(world.hostRoot, 'shared', 'logs', `${first.release}.log`), 'utf8')).length).toBeGreaterThan(0);

    // When a second release is deployed
    world.editServer(addTool('count_concepts'));
    const second = await deploy(world.context({ config }).context);

    // Then green serves it and blue is stopped and no longer enabled
    expect(second.error).toBeUndefined();
    expect(await settledRelease(world, second.release)).toBe(second.release);
    const calls = await readFile(join(fake, 'calls'), 'utf8');
    expect(calls).toContain(`restart ${green}`);
    expect(calls).toContain(`stop ${blue}`);
    expect(await exec('systemctl', ['is-active', '--quiet', blue])).toMatchObject({ code: 1 });
    expect(await exec('systemctl', ['is-enabled', '--quiet', blue])).toMatchObject({ code: 1 });
    expect(await exec('systemctl', ['is-active', '--quiet', green])).toMatchObject({ code: 0 });
  }, 180_000);
});

/**
 * A stand-in for systemctl with just what SystemdSupervisor uses. Templates live in
 * $FAKE_SYSTEMD/units; `restart` runs the unit's ExecStart (with %i filled in) as its own process
 * group, `stop` sends SIGTERM to the group and SIGKILL after 3 s (recording Result=timeout).
 */
const fakeSystemctl = `#!/bin/sh
S=\${FAKE_SYSTEMD:?}
[ "$1" = --user ] && shift
verb=$1; shift
prop=
while [ $# -gt 1 ]; do case $1 in -p) shift; prop=$1;; esac; shift; done
unit=$1
template=$(printf '%s' "$unit" | sed 's/@[^.]*\\./@./')
instance=$(printf '%s' "$unit" | sed 's/^.*@\\([^.]*\\)\\..*$/\\1/')
pidfile="$S/$unit.pid"
echo "$verb $unit" >> "$S/calls"
alive() {
  [ -f "$pidfile" ] || return 1
  state=$(sed -n 's/.*) \\(.\\).*/\\1/p' "/proc/$(cat "$pidfile")/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}
case $verb in
  show) case $prop in
      LoadState) if [ -f "$S/units/$template" ]; then echo loaded; else echo not-found; fi;;
      MainPID) if alive; then cat "$pidfile"; else echo 0; fi;;
      Result) cat "$S/$unit.result" 2>/dev/null || echo success;;
    esac;;
  is-active) alive;;
  is-enabled) [ -f "$S/$unit.enabled" ];;
  enable) touch "$S/$unit.enabled";;
  disable) rm -f "$S/$unit.enabled";;
  reset-failed) rm -f "$S/$unit.result";;
  restart|stop)
    if alive; then
      pid=$(cat "$pidfile"); kill -TERM -"$pid"; i=0
      while alive && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done
      if alive; then kill -KILL -"$pid"; sleep 0.2; echo timeout > "$S/$unit.result"; else echo success > "$S/$unit.result"; fi
    fi
    rm -f "$pidfile"
    if [ "$verb" = restart ]; then
      line=$(sed -n 's/^ExecStart=//p' "$S/units/$template" | sed "s/%i/$instance/g; s/%%/%/g")
      setsid sh -c "exec $line" </dev/null >/dev/null 2>&1 &
      echo $! > "$pidfile"
    fi;;
  *) echo "fake systemctl: $verb not supported" >&2; exit 1;;
esac
`;

// System units are changed through sudo unless we are root; sudo would not find the stand-in.
const modes: SystemdMode[] = process.getuid?.() === 0 ? ['system', 'user'] : ['user'];

describe.each(modes)('SystemdSupervisor (%s units) driving the generated unit', (mode) => {
  const transport = new LocalTransport();
  const app = 'fakeapp';
  const ports = { blue: 6202, green: 6203 };
  let fake: string;
  let root: string;
  let uninstall: () => void;
  let supervisor: SystemdSupervisor;

  beforeAll(async () => {
    fake = join(scratch, `fake-${mode}`);
    root = join(scratch, `root-${mode}`);
    uninstall = await installFakeSystemctl(fake);
    const layout = hostLayout(root);
    await mkdir(layout.sharedDir, { recursive: true });
    supervisor = new SystemdSupervisor(transport, layout, { app, ports, mode });
  });

  afterAll(async () => {
    await killInstances(fake, app, [ports.blue, ports.green]);
    uninstall?.();
  });

  function spec(colour: 'blue' | 'green', release: string, server: string): ServerSpec {
    const layout = hostLayout(root);
    return {
      colour,
      port: ports[colour],
      release,
      releaseDir: layout.releaseDir(release),
      script: server,
      env: { PORT: String(ports[colour]), RELEASE_ID: release },
      envFiles: envFilesFor(layout, release),
      logFile: layout.logFile(release),
    };
  }

  it('says to run setup when the unit is not installed', async () => {
    // Given no template unit on the host
    const release = 'r0';
    await mkdir(hostLayout(root).releaseDir(release), { recursive: true });

    // When a colour is started, it fails with the way forward; stopping is a no-op
    const error = await supervisor.start(spec('blue', release, 'exec sleep 60')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).message).toContain(`${app}@.service is not installed`);
    expect((error as DeployError).hint).toContain('mcp-deploy setup');
    expect(await supervisor.stop('blue', { graceMs: 1_000 })).toEqual({ wasRunning: false, killed: false });
  });

  it("starts a release in its folder with the env file's values exactly, logging to the release's log; stops it", async () => {
    // Given the generated unit installed, a release, and an env file with a value systemd's parser would mangle
    await writeFile(join(fake, 'units', templateUnitName(app)), renderUnit({ app, root, mode }));
    const release = '20261124T101500Z-abc1234';
    const layout = hostLayout(root);
    await mkdir(layout.releaseDir(release), { recursive: true });
    const dotenv = join(scratch, `${mode}.env`);
    await writeFile(dotenv, `SECRET=it's a $secret "really"\n`);
    await mkdir(layout.envDir, { recursive: true });
    await writeFile(layout.releaseEnvFile(release), (await renderServerEnv({ env: { required: [], file: dotenv } }))!.text, {
      mode: 0o600,
    });

    // When blue starts a server that reports what it sees
    const server = 'printf "cwd=%s release=%s port=%s secret=%s\\n" "$(pwd)" "$RELEASE_ID" "$PORT" "$SECRET"; exec sleep 300';
    const { pid } = await supervisor.start(spec('blue', release, server));

    // Then it runs as the unit's main process, from the release folder, with every value intact
    expect(pid).toBeGreaterThan(1);
    expect(await supervisor.isRunning('blue')).toBe(true);
    expect(await supervisor.isRunning('green')).toBe(false);
    const log = await waitFor(
      'the server to write its log',
      async () => (await readFile(layout.logFile(release), 'utf8').catch(() => '')) || false,
    );
    expect(log.trim()).toBe(`cwd=${layout.releaseDir(release)} release=${release} port=${ports.blue} secret=it's a $secret "really"`);
    expect(await readFile(runScriptPath(layout.runDir, ports.blue), 'utf8')).toContain(`what ${app}@${ports.blue}.service (blue) runs`);
    expect(await readFile(join(fake, 'calls'), 'utf8')).toContain(`enable ${app}@${ports.blue}.service`);

    // When it is stopped
    const stopped = await supervisor.stop('blue', { graceMs: 10_000 });

    // Then it was running, ended on SIGTERM, and the instance is no longer enabled at boot
    expect(stopped).toEqual({ wasRunning: true, killed: false });
    expect(await supervisor.isRunning('blue')).toBe(false);
    expect(await readFile(join(fake, 'calls'), 'utf8')).toContain(`disable ${app}@${ports.blue}.service`);
    expect(await supervisor.stop('blue', { graceMs: 10_000 })).toEqual({ wasRunning: false, killed: false });
  });

  it('reports a server that ignored SIGTERM as killed', async () => {
    // Given green running a server that ignores SIGTERM
    const release = 'r-stubborn';
    await mkdir(hostLayout(root).releaseDir(release), { recursive: true });
    await supervisor.start(spec('green', release, "trap '' TERM; echo ready; while :; do sleep 0.2; done"));
    await waitFor('green to run', () => supervisor.isRunning('green'));

    // When it is stopped, systemd's stop timeout ends it with SIGKILL
    const stopped = await supervisor.stop('green', { graceMs: 3_000 });

    // Then the supervisor says so
    expect(stopped).toEqual({ wasRunning: true, killed: true });
    expect(await supervisor.isRunning('green')).toBe(false);
  });
});

/**
 * The release nginx serves once its reload has settled. `nginx -s reload` returns before the old
 * worker has stopped accepting: under load, a request right after the deploy can still reach it
 * (and the upstream it knew). Polls briefly; on timeout returns what nginx last answered.
 */
async function settledRelease(world: World, expected: string | null): Promise<unknown> {
  let last: unknown;
  await waitFor(
    `nginx to serve ${expected}`,
    async () => {
      last = await servedRelease(world);
      return last === expected;
    },
    {
      timeoutMs: 10_000,
      intervalMs: 200,
    },
  ).catch(() => {});
  return last;
}

/** The release nginx serves, or what it answered instead (so a failure shows nginx's page). */
async function servedRelease(world: World): Promise<unknown> {
  const response = await fetch(`${world.publicUrl}/health`, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  try {
    return (JSON.parse(text) as Record<string, unknown>)['release'];
  } catch {
    return `HTTP ${response.status}: ${text.slice(0, 200)}`;
  }
}

/** Puts the stand-in systemctl first on PATH (LocalTransport's shells inherit it); returns the undo. */
async function installFakeSystemctl(fake: string): Promise<() => void> {
  await mkdir(join(fake, 'bin'), { recursive: true });
  await mkdir(join(fake, 'units'), { recursive: true });
  await writeFile(join(fake, 'bin', 'systemctl'), fakeSystemctl, { mode: 0o755 });
  const savedPath = process.env['PATH'];
  process.env['PATH'] = `${join(fake, 'bin')}:${savedPath ?? ''}`;
  process.env['FAKE_SYSTEMD'] = fake;
  return () => {
    process.env['PATH'] = savedPath;
    delete process.env['FAKE_SYSTEMD'];
  };
}

/** SIGKILLs what the stand-in still runs for these ports. */
async function killInstances(fake: string, app: string, ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const pid = Number.parseInt(await readFile(join(fake, `${app}@${port}.service.pid`), 'utf8').catch(() => ''), 10);
    if (pid > 1) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

async function execWithEnv(file: string, args: readonly string[], env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await exec(file, args);
  } finally {
    for (const name of Object.keys(env)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}
