import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { childPids, pidsWithCommandLine } from '../harness/processes.js';
import { cliEntry, nodeBinary, startCli } from '../reliability/cli-process.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';
import { createWorld, processRunning, writeCliConfig, type World } from './world.js';

/**
 * bin/mcp-deploy.js under a system Node older than 22 runs the CLI again under the repository's
 * Node 24 and stands in for it. Signals sent to it (by `kill`, by the terminal's Ctrl-C or
 * hang-up) must reach the CLI, which then stops safely (rolls back, unlocks), and it must end
 * only once the CLI has, with the CLI's exit code: the shell's prompt comes after the rollback.
 *
 * Run under the machine's own old Node when it has one (`/usr/bin/node`, 20 here). A machine
 * whose Node is new enough takes the same re-exec path through a test-only switch.
 */
const systemNode = '/usr/bin/node';
const oldNode = (() => {
  const probe = spawnSync(systemNode, ['-p', 'process.versions.node'], { encoding: 'utf8' });
  const major = Number(probe.stdout?.split('.')[0]);
  return probe.status === 0 && major < 22 ? { path: systemNode, version: probe.stdout.trim() } : null;
})();
const launcher = oldNode?.path ?? nodeBinary;
const forceRelaunch: Record<string, string> = oldNode ? {} : { MCP_DEPLOY_TESTING: '1', MCP_DEPLOY_RELAUNCH: '1' };
console.log(
  oldNode ? `launcher under the system Node ${oldNode.version}` : 'no Node < 22 here: the re-exec path is forced (MCP_DEPLOY_RELAUNCH)',
);

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** A deploy held at its health check (the new colour started), through the launcher. */
const heldAtHealth = { MCP_DEPLOY_TESTING: '1', MCP_DEPLOY_FAULT: 'health:start:pause', MCP_DEPLOY_FAULT_PAUSE_MS: '60000' };

describe('the launcher under an old Node', () => {
  let world: World;
  let config: string;
  let terminal: Terminal | undefined;

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    const first = await deploy(world.context().context);
    expect(first.error).toBeUndefined();
    config = writeCliConfig(world);
  }, 90_000);

  afterEach(() => {
    terminal?.stop();
    terminal = undefined;
  });

  afterAll(async () => world?.stop());

  const state = () => JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8')) as { active: { release: string } };
  /** The CLI the launcher started: its one child that runs bin/mcp-deploy.js. */
  const cliUnder = (launcherPid: number): number => {
    const children = childPids(launcherPid).filter((pid) => commandLine(pid).includes(cliEntry));
    expect(children, 'the launcher should have started the CLI as its child').toHaveLength(1);
    return children[0]!;
  };

  it('passes the CLI exit code through', async () => {
    const run = await startCli(['rollback', 'not..valid', '--yes', '--config', config], { node: launcher, env: forceRelaunch }).ended;
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain('Not a valid release id');
  }, 60_000);

  for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
    it(`${signal} to the launcher reaches the CLI, which rolls back; the launcher ends after it, with exit 130`, async () => {
      const before = state().active.release;
      world.editServer((text) => `${text}\n# ${signal}\n`);
      const cli = startCli(['--yes', '--skip-validate', '--config', config], {
        node: launcher,
        env: { ...forceRelaunch, ...heldAtHealth },
      });
      await cli.waitForOutput(/FAULT-PAUSE health:start/);
      const inner = cliUnder(cli.pid);
      expect(cli.signal(signal)).toBe(true);
      await cli.waitForOutput(/stopping safely/);
      // The test's pause ends on SIGUSR2, sent to the CLI itself: only the signal above goes through the launcher.
      process.kill(inner, 'SIGUSR2');
      const run = await cli.ended;
      expect(run.signal, run.stdout + run.stderr).toBeNull();
      expect(run.code, run.stdout + run.stderr).toBe(130);
      expect(processRunning(inner), 'the CLI outlived the launcher').toBe(false);
      expect(run.stdout).toContain('↺ Rolled back.');
      expect(run.stdout + run.stderr).toContain(`${signal}: stopping safely`);
      expect(run.stdout + run.stderr).not.toContain('Still stopping safely');
      expect(state().active.release).toBe(before);
      expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    }, 120_000);
  }

  it.skipIf(!tmuxAvailable())(
    'Ctrl-C in a terminal: one request to stop, and the prompt returns after the rollback output, with 130',
    async () => {
      const before = state().active.release;
      world.editServer((text) => `${text}\n# ctrl-c\n`);
      // An interactive shell, as an operator's is: the command is a job of its own, in the
      // terminal's foreground, and the shell itself waits through Ctrl-C.
      const shell = ['bash', '--norc', '--noprofile', '-i', '-c', '"$@"; echo "launcher exit $?"', 'bash'];
      terminal = openTerminal([...shell, launcher, cliEntry, '--yes', '--skip-validate', '--config', config], {
        cwd: world.project,
        env: { ...forceRelaunch, ...heldAtHealth },
      });
      await terminal.waitFor('FAULT-PAUSE health:start', 60_000);
      const outer = pidsWithCommandLine(config).filter((pid) => commandLine(pid).startsWith(`${launcher}\0`));
      expect(outer).toHaveLength(1);
      const inner = cliUnder(outer[0]!);
      terminal.send('C-c');
      await terminal.waitFor('stopping safely', 30_000);
      process.kill(inner, 'SIGUSR2');
      const screen = await terminal.waitFor(/launcher exit \d+/, 60_000);
      expect(screen).toContain('launcher exit 130');
      const rolledBack = screen.indexOf('↺ Rolled back.');
      expect(rolledBack, screen).toBeGreaterThan(-1);
      expect(rolledBack, 'the prompt came back before the rollback was reported').toBeLessThan(screen.indexOf('launcher exit'));
      // The terminal sends SIGINT to its foreground group: had the CLI been in it, it would have got it twice.
      expect(screen.match(/stopping safely/g), screen).toHaveLength(1);
      expect(screen).not.toContain('Still stopping safely');
      expect(state().active.release).toBe(before);
      expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    },
    120_000,
  );
});
