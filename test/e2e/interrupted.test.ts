import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { startCli } from '../reliability/cli-process.js';
import { startTraffic } from './traffic.js';
import { createWorld, getJson, writeCliConfig, type World } from './world.js';

const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;

/** A local world with a first release deployed, and a config file for the real binary. */
async function deployedWorld(): Promise<{ world: World; config: string }> {
  const world = await createWorld({ transport: 'local' });
  try {
    const summary = await deploy(world.context().context);
    expect(summary.error).toBeUndefined();
    return { world, config: writeCliConfig(world) };
  } catch (error) {
    await world.stop(); // the caller never gets it to stop
    throw error;
  }
}

/**
 * The CLI killed (SIGKILL, no cleanup) right after nginx was switched: nginx serves the new
 * colour while state.json still names the old one. The next deploy must believe nginx, start on
 * the other colour, and never stop the colour that serves.
 */
describe('a deploy killed right after the switch', () => {
  let world: World;
  let config: string;
  beforeAll(async () => {
    ({ world, config } = await deployedWorld());
  }, 60_000);
  afterAll(async () => world?.stop());

  const run = (args: string[], env: Record<string, string> = {}) =>
    execa(process.execPath, [bin, ...args, '--config', config], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1', ...env },
      timeout: 120_000,
    });

  it('leaves the new colour serving, status explains it, and the next deploy repairs it with no failed request', async () => {
    world.editServer((text) => `${text}\n# v2\n`);
    const killed = await run(['--yes', '--skip-validate'], { MCP_DEPLOY_TESTING: '1', MCP_DEPLOY_FAULT: 'switch:end:exit' });
    expect(killed.signal).toBe('SIGKILL');
    const state = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
    expect(state.active.colour).toBe('blue');
    expect(readFileSync(world.nginx.upstreamFile, 'utf8')).toContain(`127.0.0.1:${world.ports.green}`);
    // nginx applies a reload a moment after `-s reload` returns.
    let served: unknown = state.active.release;
    for (let attempt = 0; attempt < 50 && served === state.active.release; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      served = (await getJson(`${world.publicUrl}/health`)).body['release'];
    }
    expect(served).not.toBe(state.active.release);

    const status = await run(['status']);
    expect(status.stdout).toContain('nginx and state.json disagree');
    expect(status.stdout).toMatch(/lock: held by .*stale \(holder process is gone\)/);

    const traffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 20_000, maxMs: 60_000 });
    world.editServer((text) => `${text}\n# v3\n`);
    const repaired = await run(['--yes', '--skip-validate', '--force']);
    const report = await traffic.stop();
    expect(repaired.exitCode, repaired.stdout + repaired.stderr).toBe(0);
    expect(repaired.stdout).toContain('Treating green as active');
    expect(repaired.stdout).toContain('Start blue');
    expect(report.failures).toEqual([]);
    const after = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
    expect(after.active.colour).toBe('blue');
    expect(after.previous).toBe(served);
    expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(after.active.release);
  }, 120_000);
});

/**
 * Whoever read the plain output went away mid-run (`mcp-deploy --yes | head -1`, a CI log
 * collector that died): the next write fails with EPIPE. That must stop the run safely, like
 * Ctrl-C, not crash it with the lock held and a colour half-started.
 */
describe('a plain run whose output pipe closes', () => {
  let world: World;
  let config: string;
  beforeAll(async () => {
    ({ world, config } = await deployedWorld());
  }, 60_000);
  afterAll(async () => world?.stop());

  it('stops safely: rolled back, unlocked, recorded as interrupted, the old release serving', async () => {
    const before = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
    world.editServer((text) => `${text}\n# piped\n`);
    const cli = startCli(['--yes', '--skip-validate', '--config', config], { fault: 'health:start:pause' });
    await cli.waitForOutput(/FAULT-PAUSE/, 60_000);
    cli.closeStdout();
    cli.signal('SIGUSR2'); // resume: the next progress line meets the closed pipe
    const end = await cli.ended;
    expect(end.timedOut).toBe(false);
    expect(end.signal).toBeNull();
    expect(end.code).toBe(130);
    expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    expect(JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'))).toEqual(before);
    expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(before.active.release);
    const audit = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { result: string; error?: { message: string } });
    expect(audit.at(-1)).toMatchObject({ result: 'interrupted', error: { message: 'interrupted by a closed terminal or output pipe' } });
  }, 120_000);
});
