import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../harness/system.js';
import { portAccepts, sshdSkipReason, stopPid, waitFor } from '../harness/index.js';
import { createWorld, processRunning, type World } from '../e2e/world.js';
import { startTraffic } from '../e2e/traffic.js';
import { runCli, startCli, type CliEnd } from './cli-process.js';
import { cliConfigFile, colourPid, hostFacts, judge, killStrays, treeSnapshot, type Colour } from './host-facts.js';

/**
 * Faults on the host's side rather than in mcp-deploy: a stranger on the idle port, nginx not
 * running, an old server that ignores SIGTERM, a new server that dies during verification, a
 * host clock that is not the operator's, a deploy root the deploy user cannot write, an
 * unreadable state.json, a full disk. Each one must end with a clear message and traffic on a
 * release that works (or, where nothing can serve, a host left as it was).
 */

const sshSkip = await sshdSkipReason();

const out = (run: CliEnd) => `${run.stdout}\n${run.stderr}`;

async function activeState(world: World): Promise<{ colour: Colour; release: string }> {
  const facts = await hostFacts(world);
  expect(judge(facts).verdict, judge(facts).detail).toBe('consistent');
  const state = facts.state as { colour: Colour; release: string };
  return state;
}

const idle = (colour: Colour): Colour => (colour === 'blue' ? 'green' : 'blue');

describe('host faults over the local transport', () => {
  let world: World;
  let config: string;
  const deploy = (extra: string[] = [], env: Record<string, string> = {}, fault?: string) =>
    runCli(['--yes', '--skip-validate', ...extra, '--config', config], { env, ...(fault ? { fault } : {}) });
  const change = (note: string) => world.editServer((text) => `${text}\n# ${note}\n`);

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    config = cliConfigFile(world, 'host-faults');
    const first = await deploy();
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (world) killStrays(world);
    await world?.stop();
  });

  it('a stranger listening on the idle port: a clear "already in use" failure, the old release serves, the stranger is left alone', async () => {
    const before = await activeState(world);
    const port = world.ports[idle(before.colour)];
    const stranger = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore', cwd: tmpdir() });
    try {
      await waitFor('the stranger to listen', () => portAccepts(port), { timeoutMs: 10_000 });
      change('port taken');
      const run = await deploy();
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toContain(`Port ${port} (${idle(before.colour)}) on local is already in use by another process.`);
      expect(run.stdout).toContain(`ss -ltnp 'sport = :${port}'`);
      const after = await activeState(world);
      expect(after).toEqual(before);
      expect(processRunning(stranger.pid!)).toBe(true);
    } finally {
      await stopPid(stranger.pid!, 'SIGTERM');
    }
    change('port free again');
    const again = await deploy();
    expect(again.code, out(again)).toBe(0);
  }, 120_000);

  it('an old server that ignores SIGTERM is SIGKILLed after the 10 s grace and the deploy still succeeds, with no failed request', async () => {
    world.editServer((text) =>
      text.replace('    signal.signal(signal.SIGTERM, on_signal)\n', '    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n'),
    );
    const stubbornRun = await deploy();
    expect(stubbornRun.code, out(stubbornRun)).toBe(0);
    const stubborn = await activeState(world);
    const stubbornPid = colourPid(world.hostRoot, stubborn.colour)!;
    world.editServer((text) =>
      text.replace('    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n', '    signal.signal(signal.SIGTERM, on_signal)\n'),
    );

    const traffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 50_000, maxMs: 90_000 });
    const run = await deploy();
    const report = await traffic.stop();
    expect(run.code, out(run)).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`Drain and stop ${stubborn.colour} .*${stubborn.colour} ignored SIGTERM and was killed after 10 s`),
    );
    expect(run.ms).toBeGreaterThan(10_000);
    expect(processRunning(stubbornPid)).toBe(false);
    expect(report.failures).toEqual([]);
    expect((await activeState(world)).colour).toBe(idle(stubborn.colour));
  }, 120_000);

  it('a new server that exits right after passing health (during verify): switched back at once, old release serves, release marked failed', async () => {
    const before = await activeState(world);
    const newColour = idle(before.colour);
    change('dies during verify');
    const cli = startCli(['--yes', '--skip-validate', '--config', config], { fault: 'verify:start:pause' });
    await cli.waitForOutput(/FAULT-PAUSE verify:start/);
    const pid = colourPid(world.hostRoot, newColour)!;
    process.kill(-pid, 'SIGKILL');
    await waitFor('the new server to be gone', () => !processRunning(pid), { timeoutMs: 5_000 });
    cli.signal('SIGUSR2');
    const run = await cli.ended;
    expect(run.code, out(run)).toBe(1);
    expect(run.stdout).toMatch(/✖ Verify through/);
    // Noticed by the watch on the process: waiting out the checks' timeout would fail with
    // "Not healthy…" or a timeout instead.
    expect(run.stdout, out(run)).toContain('The server exited during verification.');
    expect(run.stdout).toContain(`Switch nginx back to ${before.colour}`);
    const after = await activeState(world);
    expect(after).toEqual(before);
    const failedRelease = /release (\S+) \(active now/.exec(run.stdout)?.[1];
    expect(failedRelease).toBeDefined();
    expect(existsSync(join(world.hostRoot, 'releases', failedRelease!, '.mcp-deploy', 'failed.json'))).toBe(true);
  }, 120_000);

  it('a malformed state.json is reported and never overwritten; the lock is not left behind', async () => {
    const stateFile = join(world.hostRoot, 'state.json');
    const good = readFileSync(stateFile);
    const bad = '{"version": 1, "app": "world", "active": {"colour": "blue", \n';
    writeFileSync(stateFile, bad);
    try {
      change('bad state');
      const run = await deploy();
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toMatch(/state\.json on local is not valid: not JSON .*It was left as it is/);
      expect(readFileSync(stateFile, 'utf8')).toBe(bad);
      expect(existsSync(join(world.hostRoot, 'deploy.lock')), 'the failed run left the lock behind').toBe(false);
      const status = await runCli(['status', '--config', config]);
      expect(status.code).not.toBe(0);
      expect(out(status)).toContain('state.json on local is not valid');
      expect(readFileSync(stateFile, 'utf8')).toBe(bad);
      const rollback = await runCli(['rollback', '--yes', '--config', config]);
      expect(rollback.code).toBe(1);
      expect(readFileSync(stateFile, 'utf8')).toBe(bad);
    } finally {
      writeFileSync(stateFile, good);
    }
    const again = await deploy();
    expect(again.code, out(again)).toBe(0);
  }, 120_000);

  it('release ids and lock times come from the host clock (a fake `date` first in the host shell PATH), and a frozen clock still gives unique ids', async () => {
    const fake = mkdtempSync(join(tmpdir(), 'mcpd-fake-date-'));
    try {
      // 2031-02-03T04:05:06Z: far from the operator's clock, which this test process keeps.
      const epoch = Date.UTC(2031, 1, 3, 4, 5, 6) / 1000;
      writeFileSync(join(fake, 'date'), `#!/bin/sh\nexec /usr/bin/date -d @${epoch} "$@"\n`);
      chmodSync(join(fake, 'date'), 0o755);
      const env = { PATH: `${fake}:${process.env['PATH'] ?? '/usr/bin:/bin'}` };
      change('clock 1');
      const first = await deploy([], env);
      expect(first.code, out(first)).toBe(0);
      expect(first.stdout).toMatch(/release 20310203T040506Z /);
      const meta = JSON.parse(readFileSync(join(world.hostRoot, 'releases', '20310203T040506Z', '.mcp-deploy', 'release.json'), 'utf8'));
      expect(meta.createdAt).toBe('2031-02-03T04:05:06Z');
      change('clock 2');
      const second = await deploy([], env);
      expect(second.code, out(second)).toBe(0);
      expect(second.stdout).toMatch(/release 20310203T040506Z\.2 /);
      // A lock taken under the fake clock carries the host's time, not ours.
      const held = startCli(['--yes', '--skip-validate', '--config', config], { env, fault: 'connect:end:pause' });
      await held.waitForOutput(/FAULT-PAUSE/);
      const info = JSON.parse(readFileSync(join(world.hostRoot, 'deploy.lock', 'info.json'), 'utf8'));
      held.signal('SIGUSR2');
      expect(info.startedAt).toBe(epoch);
      expect(info.startedAtIso).toBe('2031-02-03T04:05:06Z');
      expect((await held.ended).code).toBe(0);
      // state.json and the audit log take the host's time too.
      const state = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
      expect(state.updatedAt).toBe('2031-02-03T04:05:06Z');
      const audit = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { at: string });
      expect(audit.at(-1)?.at).toBe('2031-02-03T04:05:06Z');
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  }, 120_000);

  it('nginx not running: the reload fails with a clear message, the upstream include is restored, the new colour stopped, state unchanged', async () => {
    const before = await activeState(world);
    const include = readFileSync(world.nginx.upstreamFile, 'utf8');
    const master = world.nginx.pid();
    expect(master).toBeDefined();
    await stopPid(master!, 'SIGTERM');
    await waitFor('nginx to be gone', async () => !(await portAccepts(Number(new URL(world.publicUrl).port))), { timeoutMs: 10_000 });
    change('nginx down');
    const run = await deploy();
    expect(run.code, out(run)).toBe(1);
    expect(run.stdout).toMatch(/✖ Switch nginx to/);
    expect(run.stdout).toMatch(/nginx reload failed \(exit \d+\)/);
    expect(run.stdout).toContain('nginx does not seem to be running on the host: start it, then deploy again.');
    // The old colour runs, but the last line does not pretend that anything answers publicly.
    expect(run.stdout).toContain(`Serving now: release ${before.release} on ${before.colour} (port`);
    expect(run.stdout).toMatch(/Serving now: .*\), but http:\/\/127\.0\.0\.1:\d+\/?\S* does not answer: /);
    expect(readFileSync(world.nginx.upstreamFile, 'utf8')).toBe(include);
    const state = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
    expect(state.active).toMatchObject({ colour: before.colour, release: before.release });
    const newPid = colourPid(world.hostRoot, idle(before.colour));
    expect(newPid === null || !processRunning(newPid)).toBe(true);
    const oldPid = colourPid(world.hostRoot, before.colour);
    expect(oldPid !== null && processRunning(oldPid)).toBe(true);
  }, 120_000);
});

describe.skipIf(sshSkip !== undefined)(`host faults over SSH as an unprivileged user${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, () => {
  let world: World;
  let config: string;
  let tmpfs: string | null = null;
  let tmpfsSkip: string | undefined;
  const deploy = (extra: string[] = []) => runCli(['--yes', '--skip-validate', ...extra, '--config', config]);
  const change = (note: string) => world.editServer((text) => `${text}\n# ${note}\n`);

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    config = cliConfigFile(world, 'host-faults-ssh');
    // The deploy root on a small tmpfs of its own, owned by the deploy user, so the disk can fill up.
    mkdirSync(world.hostRoot, { recursive: true });
    const mount = await exec('mount', [
      '-t',
      'tmpfs',
      '-o',
      `size=6m,mode=755,uid=${world.sshd!.uid},gid=${world.sshd!.gid}`,
      'tmpfs',
      world.hostRoot,
    ]);
    if (mount.code === 0) tmpfs = world.hostRoot;
    else tmpfsSkip = `cannot mount a tmpfs here (${mount.stderr.trim() || `exit ${mount.code}`}); needs root with CAP_SYS_ADMIN`;
    const first = await deploy();
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (!world) return;
    killStrays(world);
    if (tmpfs !== null) {
      // Stop the colours first: their pid files live on the tmpfs, and world.stop() reads them.
      for (const colour of ['blue', 'green'] as const) {
        const pid = colourPid(world.hostRoot, colour);
        if (pid !== null) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      await waitFor('the tmpfs to unmount', async () => (await exec('umount', [tmpfs!])).code === 0, { timeoutMs: 10_000 }).catch(() =>
        exec('umount', ['-l', tmpfs!]),
      );
    }
    await world.stop();
  });

  it('a deploy root the deploy user cannot write (chmod 555): a clear message, nothing changed on the host', async () => {
    const before = treeSnapshot(world.hostRoot);
    chmodSync(world.hostRoot, 0o555);
    try {
      change('read-only root');
      const run = await deploy();
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toMatch(/Could not create the lock .*deploy\.lock.*Permission denied/);
      expect(run.stdout).toContain('Check that the deploy user can write to the deploy root');
      chmodSync(world.hostRoot, 0o755);
      expect(treeSnapshot(world.hostRoot)).toEqual(before);
    } finally {
      chmodSync(world.hostRoot, 0o755);
    }
    const again = await deploy();
    expect(again.code, out(again)).toBe(0);
  }, 120_000);

  it('the disk fills up during the upload: a clear message, the old release serves, nothing left that keeps the disk full, and the next deploy works', async (context) => {
    if (tmpfs === null) {
      console.log(`disk full: skipped: ${tmpfsSkip}`);
      context.skip();
      return;
    }
    const before = await activeState(world);
    const big = join(world.project, 'data.bin');
    // Random bytes, larger than the whole tmpfs.
    writeFileSync(
      big,
      Buffer.alloc(8 * 1024 * 1024, 0).map(() => Math.floor(Math.random() * 256)),
    );
    try {
      const run = await deploy();
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toMatch(/✖ Upload release/);
      expect(run.stdout).toMatch(
        /The host ran out of disk space while uploading \(\d+ KiB free under .*releases; this release sends \d+ KiB\)/,
      );
      expect(run.stdout).toContain('Free space on the host');
      console.log(
        `disk full: ${run.stdout
          .split('\n')
          .find((line) => line.includes('ran out of disk space'))
          ?.trim()}`,
      );
      expect(await activeState(world)).toEqual(before);
      // Our own partial upload is gone, so the space is free again.
      expect(readdirSync(join(world.hostRoot, 'releases')).filter((name) => name.endsWith('.partial'))).toEqual([]);
      expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
      const df = await exec('df', ['-k', '--output=avail', world.hostRoot]);
      console.log(`disk full: after the failed upload, ${df.stdout.trim().split('\n').pop()} KiB free on the 6 MiB deploy root`);
    } finally {
      rmSync(big, { force: true });
    }
    change('after disk full');
    const again = await deploy();
    expect(again.code, out(again)).toBe(0);
  }, 120_000);
});
