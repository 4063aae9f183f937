import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTarget } from '../../source/config/load.js';
import { createSupervisor } from '../../source/engine/supervisor/create-supervisor.js';
import { hostLayout } from '../../source/host/layout.js';
import { freePort, portAccepts, sshdSkipReason, stopPid, waitFor } from '../harness/index.js';
import { createWorld, processRunning, type World } from '../e2e/world.js';
import { runCli, startCli, type CliEnd } from './cli-process.js';
import { cliConfigFile, hostFacts, judge, killStrays, type Colour } from './host-facts.js';

/**
 * What mcp-deploy no longer takes on trust (issue #13), each over SSH as an unprivileged user,
 * against a real nginx and real servers, with the real binary: a pid file is not proof of
 * whose process it names.
 */

const sshSkip = await sshdSkipReason();
const out = (run: CliEnd) => `${run.stdout}\n${run.stderr}`;
const idle = (colour: Colour): Colour => (colour === 'blue' ? 'green' : 'blue');

describe.skipIf(sshSkip !== undefined)(`trust nothing without checking it, over SSH${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, () => {
  let world: World;
  let config: string;
  const deploy = (extra: string[] = []) => runCli(['--yes', '--skip-validate', ...extra, '--config', config]);
  const change = (note: string) => world.editServer((text) => `${text}\n# ${note}\n`);
  const pidFile = (colour: Colour) => join(world.hostRoot, 'run', `${colour}.pid`);
  /** Written as the deploy user would find it. */
  const writeAsUser = (path: string, text: string) => {
    writeFileSync(path, text);
    chownSync(path, world.sshd!.uid, world.sshd!.gid);
  };
  const consistent = async () => {
    const facts = await hostFacts(world);
    const verdict = judge(facts);
    expect(verdict.verdict, verdict.detail).toBe('consistent');
    return facts.state as { colour: Colour; release: string };
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    config = cliConfigFile(world, 'trust');
    const first = await deploy();
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (world) killStrays(world);
    await world?.stop();
  });

  describe('a pid file names a process; the process must prove it is ours before any signal', () => {
    /** Another app deployed by mcp-deploy into a root of its own, with its own token. */
    const other = { pid: 0, port: 0, token: 'a1b2c3d4e5f6a1b2c3d4e5f6' };
    beforeAll(async () => {
      const release = join(world.sshd!.workDir, 'other-app', 'releases', 'r1');
      mkdirSync(release, { recursive: true });
      chownSync(release, world.sshd!.uid, world.sshd!.gid);
      other.port = await freePort();
      const child = spawn('python3', ['-m', 'http.server', String(other.port), '--bind', '127.0.0.1'], {
        cwd: release,
        uid: world.sshd!.uid,
        gid: world.sshd!.gid,
        detached: true,
        stdio: 'ignore',
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', RELEASE_ID: 'r1', PORT: String(other.port), MCP_DEPLOY_INSTANCE: other.token },
      });
      other.pid = child.pid!;
      await waitFor('the other app to listen', () => portAccepts(other.port), { timeoutMs: 10_000 });
    });
    afterAll(async () => {
      if (other.pid > 0) await stopPid(other.pid, 'SIGTERM');
    });

    it("nginx's master pid in the idle colour's pid file: reported, not signalled; the deploy goes on and nginx serves it", async () => {
      const before = await consistent();
      const master = world.nginx.pid();
      expect(master).toBeDefined();
      writeAsUser(pidFile(idle(before.colour)), `${master}\n`);
      change('nginx pid in the pid file');
      const run = await deploy();
      expect(run.code, out(run)).toBe(0);
      expect(run.stdout).toContain(`names pid ${master} (nginx), which is not the ${idle(before.colour)} server mcp-deploy started`);
      expect(run.stdout).toContain('It was left running; nothing was signalled.');
      expect(world.nginx.pid()).toBe(master);
      expect(processRunning(master!)).toBe(true);
      const after = await consistent();
      expect(after.colour).toBe(idle(before.colour));
      expect(after.release).not.toBe(before.release);
    }, 120_000);

    it("another app's server pid in the idle colour's pid file: reported, not signalled; it keeps answering", async () => {
      const before = await consistent();
      // Its pid, as a pid file of the older format holds it: the repro of the issue.
      writeAsUser(pidFile(idle(before.colour)), `${other.pid}\n`);
      change('another app in the pid file');
      const run = await deploy();
      expect(run.code, out(run)).toBe(0);
      expect(processRunning(other.pid), 'the other app was stopped').toBe(true);
      expect((await fetch(`http://127.0.0.1:${other.port}/`)).status).toBe(200);
      expect(run.stdout).toContain(`names pid ${other.pid} (python3)`);
      expect(run.stdout).toMatch(/it runs in \S*other-app\/releases\/r1, outside the deploy root/);
      expect((await consistent()).colour).toBe(idle(before.colour));
    }, 120_000);

    it('a reused pid (start time), a record of another start (token), the other colour (older format): none is taken for the server', async () => {
      const active = await consistent();
      const spare = idle(active.colour);
      const record = readFileSync(pidFile(active.colour), 'utf8').trim();
      const [pid, start, token] = record.split(' ');
      expect(token, `pid file ${record}`).toMatch(/^[0-9a-f]{24}$/);
      const transport = await world.connect();
      try {
        const target = selectTarget(world.config(), undefined);
        const supervisor = createSupervisor(target, transport, hostLayout(world.hostRoot), 'world');
        const cases: [string, RegExp][] = [
          // A complete record copied from another app's root: every word is right but where it runs.
          [`${other.pid} ${startTime(other.pid)} ${other.token}`, /it runs in \S*other-app\/releases\/r1, outside the deploy root/],
          [
            `${pid} ${Number(start) + 1} ${token}`,
            /started at another time than the server recorded in the pid file \(the pid was reused\)/,
          ],
          [`${pid} ${start} ffffffffffffffffffffffff`, /its environment lacks the MCP_DEPLOY_INSTANCE token/],
          [
            `${pid}`,
            /an older format\) records no start time, and its environment does not name the release it runs in and this colour's port/,
          ],
        ];
        for (const [text, why] of cases) {
          writeAsUser(pidFile(spare), `${text}\n`);
          expect(await supervisor.isRunning(spare), text).toBe(false);
          const stopped = await supervisor.stop(spare, { graceMs: 1_000 });
          expect(stopped.foreign, text).toMatch(why);
          expect(stopped.wasRunning).toBe(false);
          expect(processRunning(Number(pid)), `${text} stopped the ${active.colour} server`).toBe(true);
        }
        // The older format still recognises the server it names on its own colour, so the first
        // deploy after an upgrade can stop the servers the old version started.
        writeAsUser(pidFile(active.colour), `${pid}\n`);
        expect(await supervisor.isRunning(active.colour)).toBe(true);
        expect((await transport.run({ script: supervisor.mainPidScript(active.colour) })).stdout.trim()).toBe(pid);
        writeAsUser(pidFile(active.colour), `${record}\n`);
        writeAsUser(pidFile(spare), '');
      } finally {
        await transport.close();
      }
      await consistent();
    }, 60_000);
  });

  describe('the lock: a run re-checks that it is its own before each change to the host', () => {
    type AuditLine = {
      operation: string;
      result: string;
      from: string | null;
      to: string | null;
      error?: { message: string };
      brokenLock?: string;
    };
    const audit = (): AuditLine[] =>
      readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as AuditLine);
    const releaseOf = (run: CliEnd) => /release (\S+) \(active now/.exec(run.stdout)?.[1];

    it('unlock --force under a deploy whose server is slow to bind, then a second deploy: the first stops, undoes nothing, exits 4', async () => {
      const base = await consistent();
      const auditBefore = audit().length;
      const original = readFileSync(join(world.project, 'server.py'), 'utf8');
      // Slow to bind: the first release sleeps before it listens (the second deploy stops it).
      world.editServer((text) =>
        text.replace(
          'from __future__ import annotations\n',
          'from __future__ import annotations\nimport time as _slow\n_slow.sleep(120)\n',
        ),
      );
      // Held at its health check (a test-only pause), so the second deploy runs all of its course in between.
      const first = startCli(['--yes', '--skip-validate', '--config', config], {
        fault: 'health:start:pause',
        env: { MCP_DEPLOY_FAULT_PAUSE_MS: '90000' },
      });
      await first.waitForOutput(/FAULT-PAUSE health:start/);

      const unlock = await runCli(['unlock', '--force', '--config', config]);
      expect(unlock.code, out(unlock)).toBe(0);

      world.editServer(() => `${original}\n# the second deploy\n`);
      const second = await deploy();
      expect(second.code, out(second)).toBe(0);
      // The first goes on: its health check now meets the second's server, on the same port.
      first.signal('SIGUSR2');
      const firstEnd = await first.ended;
      // The behaviour first: one story on the host, whatever was printed.
      const after = await consistent();
      expect(after.release).toBe(releaseOf(second));
      expect(firstEnd.code, out(firstEnd)).toBe(4);
      expect(firstEnd.stdout).toContain("is no longer this run's: it was broken");
      expect(firstEnd.stdout).not.toContain('Rolling back');
      expect(firstEnd.stdout).not.toMatch(/✔ Switch nginx/);

      expect(unlock.stdout).toMatch(/Lock held by \S+ \(pid \d+\) since .* for deploy; last heartbeat/);
      expect(unlock.stdout).toContain('Lock removed; recorded in audit.log.');
      const lines = audit().slice(auditBefore);
      expect(lines.map((line) => `${line.operation} ${line.result}`).sort()).toEqual(['deploy failed', 'deploy ok', 'unlock ok']);
      expect(lines.find((line) => line.operation === 'unlock')?.brokenLock).toMatch(/ since .* for deploy/);
      expect(lines.find((line) => line.result === 'failed')?.error?.message).toContain("is no longer this run's");
      expect(lines.filter((line) => line.result === 'ok' && line.from === base.release && line.operation === 'deploy')).toHaveLength(1);
    }, 180_000);

    it('deploy --force from another PID namespace with the same host name: the live holder is not judged gone, its lock stands', async () => {
      const before = await consistent();
      change('held in its own namespace');
      const holder = startCli(['--yes', '--skip-validate', '--config', config], {
        fault: 'connect:end:pause',
        env: { MCP_DEPLOY_FAULT_PAUSE_MS: '90000' },
      });
      try {
        await holder.waitForOutput(/FAULT-PAUSE connect:end/);
        // Its pid does not exist in a new PID namespace: judged by the pid alone, the holder is "gone".
        const breaker = await runCli(['--yes', '--skip-validate', '--force', '--config', config], {
          wrapper: ['unshare', '--pid', '--fork'],
        });
        expect(breaker.code, out(breaker)).toBe(4);
        const info = JSON.parse(readFileSync(join(world.hostRoot, 'deploy.lock', 'info.json'), 'utf8'));
        expect(info.machine, 'the holder records where its pid means something').toMatch(/\/pid:\[\d+\]$/);
        expect(breaker.stdout).toContain('--force only breaks a stale lock, and this one is not stale.');
        expect(breaker.stdout).toMatch(/last heartbeat \d+s ago/);
      } finally {
        holder.signal('SIGUSR2');
      }
      const held = await holder.ended;
      expect(held.code, out(held)).toBe(0);
      expect((await consistent()).release).not.toBe(before.release);
    }, 180_000);
  });

  it('a regular file where the lock directory goes: status says so (never "lock: free"), a deploy is refused, unlock --force removes it', async () => {
    writeAsUser(join(world.hostRoot, 'deploy.lock'), 'left by hand\n');
    const status = await runCli(['status', '--config', config]);
    expect(status.code, out(status)).toBe(0);
    expect(status.stdout).toContain(
      'deploy.lock is a regular file, not the lock directory: no deploy can take the lock until it is removed',
    );
    expect(status.stdout).not.toContain('lock: free');
    const refused = await deploy();
    expect(refused.code, out(refused)).toBe(4);
    const unlock = await runCli(['unlock', '--force', '--config', config]);
    expect(unlock.code, out(unlock)).toBe(0);
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    expect((await runCli(['status', '--config', config])).stdout).toContain('lock: free');
  }, 120_000);

  describe('the environment a release runs with is its own', () => {
    const secrets = () => join(world.project, '..', 'trust-secrets.env');
    const envConfig = () => cliConfigFile(world, 'trust-env', { env: { required: [], file: secrets() } });
    const releaseOf = (run: CliEnd) => /release (\S+) \(active now/.exec(run.stdout)?.[1];
    /** What the server serving now sees as SECRET, from its own environment. */
    const servedSecret = async () => {
      const { colour } = await consistent();
      const pid = readFileSync(pidFile(colour), 'utf8').split(' ')[0];
      return readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .find((entry) => entry.startsWith('SECRET='));
    };

    it('a failed deploy with a new secret leaves the others alone: a rollback, from a shell without the secrets, starts the old release with its own', async () => {
      const file = envConfig();
      const original = readFileSync(join(world.project, 'server.py'), 'utf8');
      writeFileSync(secrets(), 'SECRET=old\n');
      change('env: old');
      const old = await runCli(['--yes', '--skip-validate', '--config', file]);
      expect(old.code, out(old)).toBe(0);
      const oldRelease = releaseOf(old)!;
      writeFileSync(secrets(), 'SECRET=current\n');
      change('env: current');
      const current = await runCli(['--yes', '--skip-validate', '--config', file]);
      expect(current.code, out(current)).toBe(0);
      const currentRelease = releaseOf(current)!;
      expect(await servedSecret()).toBe('SECRET=current');

      // A deploy with a new secret that fails its health check.
      writeFileSync(secrets(), 'SECRET=new\n');
      world.editServer((text) =>
        text.replace('from __future__ import annotations\n', 'from __future__ import annotations\nraise SystemExit(3)\n'),
      );
      const failed = await runCli(['--yes', '--skip-validate', '--config', file]);
      expect(failed.code, out(failed)).toBe(1);
      world.editServer(() => original);
      expect(await servedSecret()).toBe('SECRET=current');

      // The secrets are gone from this shell: the rollback needs none of them.
      rmSync(secrets());
      const back = await runCli(['rollback', oldRelease, '--yes', '--config', file]);
      expect(back.code, out(back)).toBe(0);
      expect((await consistent()).release).toBe(oldRelease);
      expect(await servedSecret()).toBe('SECRET=old');

      const envFile = join(world.hostRoot, 'shared', 'env', `${oldRelease}.env`);
      expect(statSync(envFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(world.hostRoot, 'shared', 'env')).mode & 0o777).toBe(0o700);
      expect(statSync(envFile).uid).toBe(world.sshd!.uid);
      expect(existsSync(join(world.hostRoot, 'shared', '.env')), 'nothing writes the shared env file any more').toBe(false);

      // Unless the operator says otherwise: the active release's environment, or one made here.
      const withActive = await runCli(['rollback', currentRelease, '--env-from', 'active', '--yes', '--config', file]);
      expect(withActive.code, out(withActive)).toBe(0);
      expect(withActive.stdout).toMatch(new RegExp(`✔ Give ${currentRelease} the environment of the active release \\(${oldRelease}\\)`));
      expect(await servedSecret()).toBe('SECRET=old');
      writeFileSync(secrets(), 'SECRET=rotated\n');
      const withLocal = await runCli(['rollback', oldRelease, '--env-from', 'local', '--yes', '--config', file]);
      expect(withLocal.code, out(withLocal)).toBe(0);
      expect(await servedSecret()).toBe('SECRET=rotated');
      expect(out(withLocal)).not.toContain('rotated');
    }, 240_000);
  });
});

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTime(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}
