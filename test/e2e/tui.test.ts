import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { pidsWithCommandLine } from '../harness/processes.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';
import { createWorld, getJson, writeCliConfig, type World } from './world.js';

/**
 * The Ink app as a person uses it: the real binary in a pseudo-terminal (tmux), keys sent,
 * the screen read. Every flow ends by checking the host, not only the screen.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const skip = tmuxAvailable() ? undefined : 'tmux is not installed (apt-get install tmux)';

describe.skipIf(skip !== undefined)(`the terminal app in a real pty${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let config: string;
  let terminal: Terminal | undefined;
  let original: string;

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    original = readFileSync(join(world.project, 'server.py'), 'utf8');
    const first = await deploy(world.context().context);
    expect(first.error).toBeUndefined();
    config = writeCliConfig(world);
  }, 60_000);

  afterEach((context) => {
    // A broken layout is easiest to read as the screen itself.
    if (terminal && context.task.result?.state === 'fail') console.log(`final screen:\n${terminal.screen()}`);
    terminal?.stop();
    terminal = undefined;
    world.editServer(() => original);
  });

  afterAll(async () => world?.stop());

  // A small terminal on purpose: every screen must fit, or Ink redraws the whole screen each frame.
  const rows = 30;
  const open = (args: string[], env: Record<string, string> = {}) =>
    (terminal = openTerminal([process.execPath, bin, ...args, '--config', config], { cwd: world.project, env, rows }));
  /** The header is still the first row: the frame fitted and nothing scrolled away. */
  const fitted = (screen: string) => expect(screen.split('\n')[0]).toMatch(/^mcp-deploy · world → world/);
  /** A deploy from the plan, held (test-only pause) at its health check once the new colour has started. */
  const deployHeldAtHealth = async (note: string): Promise<Terminal> => {
    world.editServer((text) => `${text}\n# ${note}\n`);
    const term = open(['--skip-validate'], {
      MCP_DEPLOY_TESTING: '1',
      MCP_DEPLOY_FAULT: 'health:start:pause',
      MCP_DEPLOY_FAULT_PAUSE_MS: '5000',
    });
    await term.waitFor('Deploy this?', 60_000);
    term.send('y');
    await term.waitFor(/✔ Start (blue|green)/, 60_000);
    return term;
  };
  /** The CLI's node process itself, not the shell tmux runs it from. */
  const cliPid = (): number => {
    const programOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    const found = pidsWithCommandLine(config).filter((pid) => programOf(pid) === process.execPath);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const served = async () => {
    try {
      return (await getJson(`${world.publicUrl}/health`)).body['release'];
    } catch (error) {
      // nginx's own account (which upstream port failed, and how) is what explains a 502.
      const log = existsSync(world.nginx.errorLog)
        ? readFileSync(world.nginx.errorLog, 'utf8').trim().split('\n').slice(-8).join('\n')
        : '(no error log)';
      throw new Error(`${(error as Error).message}\nnginx error log:\n${log}`, { cause: error });
    }
  };
  const state = () =>
    JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8')) as {
      active: { release: string; colour: string };
      previous: string | null;
    };

  it('deploys from the plan to ✔ and says what serves', async () => {
    world.editServer((text) => `${text}\n# tui v2\n`);
    const before = state().active.release;
    const term = open([]);
    const plan = await term.waitFor('Deploy this?', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(plan).toMatch(/mcp-deploy · world → world/);
    term.send('y');
    const done = await term.waitFor(/Serving now:/, 90_000);
    fitted(done);
    expect(done).toMatch(/✔ .*Switch nginx/);
    expect(done).not.toContain('✖');
    term.send('q');
    expect(await term.waitForExit(30_000)).toBe(0);
    expect(state().active.release).not.toBe(before);
    expect(await served()).toBe(state().active.release);
  }, 180_000);

  it('shows a failing release roll back, and the old release keeps serving', async () => {
    const before = state().active.release;
    world.editServer((text) =>
      text.replace(
        'def main(argv=None) -> int:\n',
        'def main(argv=None) -> int:\n    if __import__("os").environ.get("RELEASE_ID"):\n        raise SystemExit("boom on the host")\n',
      ),
    );
    const term = open(['--skip-validate']);
    await term.waitFor('Deploy this?', 60_000);
    term.send('y');
    const screen = await term.waitFor(/Serving now:/, 90_000);
    fitted(screen);
    expect(screen).toContain('✖');
    expect(screen).toMatch(/Stop (blue|green)/);
    expect(screen).toContain(before);
    term.send('q');
    expect(await term.waitForExit(30_000)).toBe(1);
    expect(await served()).toBe(before);
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
  }, 180_000);

  it('rolls back from the releases browser with r, y', async () => {
    const { active, previous } = state();
    expect(previous).not.toBeNull();
    const term = open(['releases']);
    await term.waitFor('newest first', 30_000);
    // The list is drawn a moment before Ink listens for keys.
    await new Promise((resolve) => setTimeout(resolve, 500));
    term.send('r');
    await term.waitFor(`Roll back to ${previous}?`, 10_000);
    term.send('y');
    await term.waitFor(/Serving now:/, 90_000);
    // q leaves the rollback's checklist for the browser, whose q quits.
    term.send('q');
    await term.waitFor(/r roll back to it · q quit/, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    term.send('q');
    expect(await term.waitForExit(30_000)).toBe(0);
    expect(state().active.release).toBe(previous);
    expect(state().previous).toBe(active.release);
    expect(await served()).toBe(previous);
  }, 180_000);

  it('Ctrl-C during the health check stops safely: rolled back, unlocked, exit 130', async () => {
    const before = state();
    const term = await deployHeldAtHealth('interrupted');
    term.send('C-c');
    await new Promise((resolve) => setTimeout(resolve, 300));
    term.send('C-c');
    const status = await term.waitForExit(90_000).catch(async () => {
      term.send('q');
      return term.waitForExit(30_000);
    });
    expect(status).toBe(130);
    expect(term.screen()).toMatch(/✖ Health-check/);
    // Interrupted, not failed: the release is undone but not marked as a bad one.
    const interrupted = readdirSync(join(world.hostRoot, 'releases'))
      .filter((name) => !name.startsWith('.'))
      .sort()
      .at(-1)!;
    expect(interrupted > before.active.release).toBe(true);
    expect(existsSync(join(world.hostRoot, 'releases', interrupted, '.mcp-deploy', 'failed.json'))).toBe(false);
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    expect(state()).toEqual(before);
    expect(await served()).toBe(before.active.release);
  }, 180_000);

  it('SIGTERM to the app (a service manager stopping it) stops safely, once: rolled back, unlocked, exit 130', async () => {
    const before = state();
    const term = await deployHeldAtHealth('terminated');
    process.kill(cliPid(), 'SIGTERM');
    const status = await term.waitForExit(90_000).catch(async () => {
      term.send('q');
      return term.waitForExit(30_000);
    });
    expect(status).toBe(130);
    const screen = term.screen();
    expect(screen).toContain('SIGTERM: stopping safely');
    // One signal is one request to stop: nothing may answer it as if it were sent twice.
    expect(screen).not.toContain('Still stopping safely');
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    expect(state()).toEqual(before);
    expect(await served()).toBe(before.active.release);
  }, 180_000);

  it('a terminal that goes away mid-deploy (SIGHUP) still stops safely: rolled back, unlocked, recorded', async () => {
    const before = state();
    const term = await deployHeldAtHealth('hung up');
    const cli = cliPid();
    // Closing the terminal: its processes get SIGHUP, and nothing they write can be shown any more.
    term.stop();
    terminal = undefined;
    const deadline = Date.now() + 90_000;
    while (existsSync(`/proc/${cli}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(existsSync(`/proc/${cli}`)).toBe(false);
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    expect(state()).toEqual(before);
    expect(await served()).toBe(before.active.release);
    const audit = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { result: string; error?: { message: string } });
    // Interrupted by the hangup, or by the failed read or write that may reach us just before it.
    expect(audit.at(-1)).toMatchObject({
      result: 'interrupted',
      error: { message: expect.stringMatching(/^interrupted by (SIGHUP|a closed terminal or output pipe)$/) },
    });
  }, 180_000);

  it('doctor runs in a terminal: one line per check, and a ready verdict', async () => {
    const term = open(['doctor']);
    expect(await term.waitForExit(60_000)).toBe(0);
    const screen = term.screen();
    expect(screen).toMatch(/✔ nginx\.test/);
    expect(screen).toMatch(/✔ nginx includes upstream/);
    expect(screen).toMatch(/✔ python venv/);
    expect(screen).toContain('Ready for a first deploy.');
  }, 90_000);
});
