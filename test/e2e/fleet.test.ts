import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdSkipReason } from '../harness/index.js';
import { cliEntry, runCli, startCli } from '../reliability/cli-process.js';
import { createFleetWorld, crashWhereMarked, type FleetHostHandle, type FleetWorld } from './fleet-world.js';
import { startTraffic } from './traffic.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';
import { addTool } from './world.js';

/**
 * A three-host fleet behind a front nginx, driven through the real binary: deploys and a rollback
 * with traffic through the front, a release that crashes on the third host only, a host locked or
 * unreachable at the start, and a run killed in the middle of a batch. One world, in order: each
 * case starts from what the one before left.
 */
const skip = await sshdSkipReason();

type FleetJson = {
  ok: boolean;
  outcome: string;
  release: string | null;
  fleetRun: string;
  batches: string[][];
  hosts: {
    host: string;
    ok: boolean;
    switched: boolean;
    rolledBack: boolean;
    serving: string | null;
    error?: { step: string; message: string };
  }[];
  error?: { host: string | null; message: string };
  exitCode: number;
};

describe.skipIf(skip !== undefined)(`a fleet of three hosts behind a load balancer${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: FleetWorld;
  let config: string;
  const releases: Record<string, string> = {};

  beforeAll(async () => {
    world = await createFleetWorld(3);
    config = world.writeConfig({ rollout: { batchSize: 2 } });
  }, 120_000);
  afterAll(async () => world?.stop());

  const fleetRun = async (args: readonly string[], options: { fault?: string } = {}) => {
    // A command (rollback) comes first; a deploy skips the local checks (validate has its own tests).
    const argv =
      args[0] === 'rollback'
        ? [...args, '--yes', '--json', '--config', config]
        : ['--yes', '--json', '--skip-validate', '--config', config, ...args];
    const end = await runCli(argv, {
      timeoutMs: 180_000,
      ...(options.fault ? { fault: options.fault } : {}),
    });
    let json: FleetJson;
    try {
      json = JSON.parse(end.stdout) as FleetJson;
    } catch {
      throw new Error(`not one JSON document (exit ${end.code}):\n${end.stdout}\n${end.stderr}`);
    }
    return { end, json };
  };
  const actives = () => world.hosts.map((host) => world.activeRelease(host));
  const releaseDirs = (host: FleetHostHandle) =>
    existsSync(join(host.root, 'releases')) ? readdirSync(join(host.root, 'releases')).sort() : [];
  const auditRuns = (host: FleetHostHandle) =>
    readFileSync(join(host.root, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { fleetRun?: string }).fleetRun ?? null);

  it('deploys to every host, the canary first, then with traffic through the front deploys again: 0 failed requests, every host on the new release', async () => {
    const first = await fleetRun([]);
    expect(first.end.code, first.end.stderr).toBe(0);
    expect(first.json.batches).toEqual([['web1'], ['web2', 'web3']]);
    releases['v1'] = first.json.release!;
    expect(actives()).toEqual([releases['v1'], releases['v1'], releases['v1']]);
    // Each host's lines carry its name; the canary switched before either of the batch did.
    const stderr = first.end.stderr;
    expect(stderr).toMatch(/^\[web2\] ✔ Upload release/m);
    const canarySwitch = stderr.search(/^\[web1\] ✔ Switch nginx/m);
    expect(canarySwitch).toBeGreaterThan(-1);
    expect(canarySwitch).toBeLessThan(stderr.search(/^\[web2\] ✔ Switch nginx/m));
    expect(canarySwitch).toBeLessThan(stderr.search(/^\[web3\] ✔ Switch nginx/m));

    world.editServer(addTool('count_concepts'));
    const traffic = startTraffic(world.frontUrl, { clients: 3, maxMs: 150_000 });
    const second = await fleetRun([]);
    const report = await traffic.stop();
    expect(second.end.code, second.end.stderr).toBe(0);
    expect(second.json.outcome).toBe('ok');
    releases['v2'] = second.json.release!;
    expect(releases['v2']).not.toBe(releases['v1']);
    expect(actives()).toEqual([releases['v2'], releases['v2'], releases['v2']]);
    expect(report.failures).toEqual([]);
    expect(report.sent).toBeGreaterThan(50);
    // The same fleet run id in every host's audit log.
    const ids = world.hosts.map((host) => auditRuns(host).at(-1));
    expect(new Set(ids)).toEqual(new Set([second.json.fleetRun]));
  }, 300_000);

  it('a host locked or unreachable at the start stops the deploy before anything changes on any host, naming the host', async () => {
    const before = world.hosts.map(releaseDirs);
    const locked = await runCli(['lock', 'acquire', '--yes', '--config', config, '--host', 'web2', '-m', 'maintenance'], {
      timeoutMs: 60_000,
    });
    expect(locked.code, locked.stderr).toBe(0);
    world.editServer((text) => text.replace('Example MCP server', 'Example MCP server (v3)'));
    const refused = await fleetRun([]);
    expect(refused.end.code).toBe(4);
    expect(refused.json.outcome).toBe('stopped');
    expect(refused.json.error?.host).toBe('web2');
    expect(refused.end.stderr).toMatch(/\[web2\].*maintenance/);
    const unlocked = await runCli(['lock', 'release', '--yes', '--config', config, '--host', 'web2'], { timeoutMs: 60_000 });
    expect(unlocked.code, unlocked.stderr).toBe(0);

    // web3 at a port where nothing listens.
    const unreachable = world.writeConfig({
      rollout: { batchSize: 2 },
      hosts: (host, entry) => (host.name === 'web3' ? { ...entry, port: 1 } : entry),
    });
    const cut = await runCli(['--yes', '--json', '--skip-validate', '--config', unreachable], { timeoutMs: 120_000 });
    expect(cut.code, cut.stderr).toBe(3);
    expect((JSON.parse(cut.stdout) as FleetJson).error?.host).toBe('web3');

    expect(actives()).toEqual([releases['v2'], releases['v2'], releases['v2']]);
    expect(world.hosts.map(releaseDirs)).toEqual(before);
    for (const host of world.hosts) expect(existsSync(join(host.root, 'deploy.lock'))).toBe(false);
  }, 200_000);

  it('a release that crashes on the third host only: hosts one and two go back to their release, host three never switched, exit 1; with onFailure "halt" they keep it, and a fleet rollback evens the fleet out', async () => {
    world.editServer(crashWhereMarked);
    const third = world.hosts[2]!;
    writeFileSync(join(third.root, 'CRASH-HERE'), 'this host crashes\n');
    const traffic = startTraffic(world.frontUrl, { clients: 2, maxMs: 150_000 });
    const failed = await fleetRun([]).finally(() => rmSync(join(third.root, 'CRASH-HERE'), { force: true }));
    const report = await traffic.stop();
    expect(failed.end.code, failed.end.stderr).toBe(1);
    expect(failed.json.outcome).toBe('rolled-back');
    expect(failed.json.error?.host).toBe('web3');
    const [one, two, three] = failed.json.hosts;
    expect(one).toMatchObject({ host: 'web1', switched: true, rolledBack: true });
    expect(one?.serving).toContain(releases['v2']);
    expect(two?.serving).toContain(releases['v2']);
    expect(three).toMatchObject({ host: 'web3', switched: false });
    expect(three?.serving).toContain(releases['v2']);
    expect(actives()).toEqual([releases['v2'], releases['v2'], releases['v2']]);
    expect(failed.end.stderr).toMatch(/web3: .*never switched|web3: .*failed here/);
    expect(report.failures).toEqual([]);

    // rollout.onFailure "halt": the same failure leaves the switched hosts on the new release; a
    // fleet rollback then brings the fleet back to one release (the third host, already on it, stays).
    const halting = world.writeConfig({ rollout: { batchSize: 2, onFailure: 'halt' } });
    world.editServer((text) => text.replace('Example MCP server (v3)', 'Example MCP server (v3, halted)'));
    writeFileSync(join(third.root, 'CRASH-HERE'), 'this host crashes\n');
    const halted = await runCli(['--yes', '--json', '--skip-validate', '--config', halting], { timeoutMs: 180_000 }).finally(() =>
      rmSync(join(third.root, 'CRASH-HERE'), { force: true }),
    );
    const haltedJson = JSON.parse(halted.stdout) as FleetJson;
    expect(halted.code, halted.stderr).toBe(1);
    expect(haltedJson.outcome).toBe('halted');
    expect(haltedJson.hosts.map((host) => [host.host, host.switched, host.rolledBack])).toEqual([
      ['web1', true, false],
      ['web2', true, false],
      ['web3', false, true],
    ]);
    expect(actives()).toEqual([haltedJson.release, haltedJson.release, releases['v2']]);
    const together = await fleetRun(['rollback']);
    expect(together.end.code, together.end.stderr).toBe(0);
    expect(together.json.release).toBe(releases['v2']);
    expect(actives()).toEqual([releases['v2'], releases['v2'], releases['v2']]);
  }, 300_000);

  it('Ctrl-C in the middle of a batch takes every host back; a run killed there is made consistent by the next run (a fleet rollback, with traffic through the front)', async () => {
    // Not crashing anywhere any more (the marker is removed), a fresh release: killed once the second host switched.
    world.editServer((text) => text.replace(/Example MCP server \([^)]*\)/, 'Example MCP server (v4)'));
    // Ctrl-C (SIGINT) once the second host switched: it and the third undo their own cutovers, the canary goes back.
    const stopped = await fleetRun([], { fault: 'switch:end:sigint:2' });
    expect(stopped.end.code, stopped.end.stderr).toBe(130);
    expect(stopped.json.outcome).toBe('interrupted');
    expect(stopped.json.hosts[0]).toMatchObject({ host: 'web1', switched: true, rolledBack: true });
    expect(actives()).toEqual([releases['v2'], releases['v2'], releases['v2']]);
    for (const host of world.hosts) expect(existsSync(join(host.root, 'deploy.lock'))).toBe(false);

    const killed = startCli(['--yes', '--skip-validate', '--config', config], { fault: 'switch:end:exit:2', timeoutMs: 180_000 });
    const end = await killed.ended;
    expect(end.signal).toBe('SIGKILL');
    const mixed = actives();
    expect(mixed[0]).not.toBe(releases['v2']);

    const traffic = startTraffic(world.frontUrl, { clients: 2, maxMs: 150_000 });
    const back = await fleetRun(['rollback', '--force']);
    const report = await traffic.stop();
    expect(back.end.code, back.end.stderr).toBe(0);
    // The newest good release older than the one the killed run left on the canary, on every host
    // (the interrupted run's: an interrupted release is not a failed one, as on one host).
    const target = back.json.release!;
    expect(target).not.toBe(mixed[0]);
    expect(actives()).toEqual([target, target, target]);
    expect(report.failures).toEqual([]);
    for (const host of world.hosts) expect(existsSync(join(host.root, 'deploy.lock'))).toBe(false);

    const status = await runCli(['status', '--yes', '--json', '--config', config], { timeoutMs: 60_000 });
    const rows = (JSON.parse(status.stdout) as { hosts: { host: string; result: unknown }[] }).hosts;
    expect(rows.map((row) => row.host)).toEqual(['web1', 'web2', 'web3']);
  }, 300_000);

  it.skipIf(!tmuxAvailable())(
    'the terminal app: a host × step matrix in a real pty, the log pane following the chosen host, one line per host when narrow',
    async () => {
      let terminal: Terminal | undefined;
      try {
        world.editServer((text) => text.replace('Example MCP server (v4)', 'Example MCP server (v5)'));
        terminal = openTerminal([process.execPath, cliEntry, '--skip-validate', '--config', config], {
          cwd: world.project,
          columns: 120,
          rows: 30,
        });
        await terminal.waitFor('Deploy to 3 hosts in these batches?', 60_000);
        terminal.send('y');
        terminal.send('Down');
        const done = await terminal.waitFor(/Fleet: every host serves/, 120_000);
        // Rows are hosts, columns steps: every cell of every host done (✔) or skipped (-) from connect to audit.
        expect(done).toMatch(/^\s+conn\s+pref\s+uplo\s+inst\s+star\s+heal\s+expo\s+cont\s+swit\s+veri/m);
        for (const name of ['web1', 'web2', 'web3']) expect(done).toMatch(new RegExp(`^. ${name}\\s+(✔\\s+){10,}`, 'm'));
        expect(done).toMatch(/── log: web2/);
        expect(done.split('\n')[0]).toMatch(/^mcp-deploy · fleet → fleet · deploy · 3 hosts/);
        terminal.send('q');
        expect(await terminal.waitForExit(30_000)).toBe(0);
        terminal.stop();
        const release = world.activeRelease(world.hosts[0]!);
        expect(actives()).toEqual([release, release, release]);

        terminal = openTerminal([process.execPath, cliEntry, 'rollback', '--config', config], {
          cwd: world.project,
          columns: 60,
          rows: 24,
        });
        await terminal.waitFor('Roll back 3 hosts in these batches?', 60_000);
        terminal.send('y');
        const narrow = await terminal.waitFor(/Fleet: every host serves/, 120_000);
        for (const name of ['web1', 'web2', 'web3']) expect(narrow).toMatch(new RegExp(`^. ${name}\\s+serves release \\S+`, 'm'));
        terminal.send('q');
        expect(await terminal.waitForExit(30_000)).toBe(0);
        terminal.stop();

        // The releases browser: a column per host, the release every host serves marked active on each.
        const serving = world.activeRelease(world.hosts[0]!)!;
        terminal = openTerminal([process.execPath, cliEntry, 'releases', '--config', config], {
          cwd: world.project,
          columns: 100,
          rows: 24,
        });
        const browser = await terminal.waitFor(/↑\/↓ choose · q quit/, 60_000);
        expect(browser).toMatch(/mcp-deploy releases · 3 hosts/);
        expect(browser).toMatch(/^\s+web1\s+web2\s+web3/m);
        expect(browser).toMatch(new RegExp(`${serving}\\s+●\\s+●\\s+●`));
        terminal.send('q');
        expect(await terminal.waitForExit(30_000)).toBe(0);
      } catch (error) {
        if (terminal) console.log(`final screen:\n${terminal.screen()}`);
        throw error;
      } finally {
        terminal?.stop();
      }
    },
    300_000,
  );
});
