import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { sshdSkipReason } from '../harness/index.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * `mcp-deploy status --watch` as an operator sees it: the real binary in an 80×24 pseudo-terminal
 * (tmux), against a deployed world over the local transport and over SSH, with real traffic
 * through nginx. The screen is read as a person reads it; the host is the fixture.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const tmuxSkip = tmuxAvailable() ? undefined : 'tmux is not installed (apt-get install tmux)';
const sshSkip = await sshdSkipReason();

/** A release that answers 500 to everything while `flag` exists: a server that starts failing. */
function failWhenFlagged(flag: string) {
  return (text: string) =>
    text.replace(
      '    def route(self):\n',
      `    def route(self):\n        if os.path.exists(${JSON.stringify(flag)}):\n            self.send_json(500, {"error": "failing on purpose"})\n            return\n`,
    );
}

/** The row of the screen that starts with `label` (after the indent), or ''. */
const row = (screen: string, label: string) => screen.split('\n').find((line) => line.trimStart().startsWith(label)) ?? '';
const bars = (line: string) => (line.match(/[▁▂▃▄▅▆▇█]/g) ?? []).length;

describe.each([
  ['local', tmuxSkip],
  ['ssh', tmuxSkip ?? sshSkip],
] as const)('the dashboard over %s, in a real 80×24 pty', (transportKind, skip) => {
  let world: World;
  let config: string;
  let flag: string;
  let terminal: Terminal | undefined;
  let stopTraffic = false;
  let traffic: Promise<void> = Promise.resolve();

  beforeAll(async () => {
    if (skip !== undefined) return;
    world = await createWorld({ transport: transportKind });
    flag = join(world.hostRoot, '..', `fail-${transportKind}`);
    world.editServer(failWhenFlagged(flag));
    const first = await deploy(world.context().context, { skipValidate: true });
    expect(first.error).toBeUndefined();
    config = writeCliConfig(world, { watch: { accessLog: world.nginx.accessLog } });
    // Real traffic through nginx for the request, 5xx and upstream rows; bounded in time and count.
    traffic = (async () => {
      const deadline = Date.now() + 170_000;
      for (let sent = 0; !stopTraffic && Date.now() < deadline && sent < 20_000; sent += 1) {
        await fetch(`${world.publicUrl}/ontology/status`)
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();
  }, 90_000);

  afterEach((context) => {
    if (terminal && context.task.result?.state === 'fail') console.log(`final screen:\n${terminal.screen()}`);
    terminal?.stop();
    terminal = undefined;
    if (flag && existsSync(flag)) rmSync(flag);
  });

  afterAll(async () => {
    stopTraffic = true;
    await traffic;
    await world?.stop();
  });

  const open = () =>
    (terminal = openTerminal([process.execPath, bin, 'status', '--watch', '--interval', '0.5', '--config', config], {
      cwd: world.project,
      columns: 80,
      rows: 24,
    }));

  it.skipIf(skip !== undefined)(
    'draws sparklines that grow, fits 80×24, and a server that starts failing moves health and 5xx',
    async () => {
      const term = open();
      const first = await term.waitFor(/health\s+\S*█+ healthy/, 60_000);
      // Fits: the header is the first row, the keys are on the screen, no line is wider than 80.
      expect(first.split('\n')[0]).toMatch(/^mcp-deploy · world → world/);
      expect(first).toContain('q quit · 2 releases · l log');
      expect(first.split('\n').every((line) => [...line].length <= 80)).toBe(true);
      for (const label of ['MCP latency', 'CPU', 'memory', 'requests/s', '5xx rate', 'upstream time', 'sessions']) {
        expect(row(first, label), label).not.toBe('');
      }
      // The traffic loop's requests stand alone: no session is held, so the serving colour counts 0.
      expect(row(first, 'sessions')).toMatch(/ 0\s*$/);
      // It updates: the health line gains a bar per sample.
      const before = bars(row(first, 'health'));
      const later = await term.waitFor(/requests\/s\s+.*\d+\.\d\/s/, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(bars(row(term.screen(), 'health'))).toBeGreaterThan(before);
      expect(row(later, '5xx rate')).toMatch(/ 0\.0%\s*$/);
      if (process.env['DASHBOARD_CAPTURE']) console.log(`capture:\n${term.screen()}`);

      // When the server starts failing
      writeFileSync(flag, 'now');
      const failing = await term.waitFor(/health\s+.* failing/, 30_000);
      expect(row(failing, 'health')).toMatch(/failing\s*$/);
      const erring = await term.waitFor(/5xx rate\s+.*\s(100\.0|[1-9]\d?\.\d)%/, 30_000);
      expect(row(erring, '5xx rate')).not.toMatch(/ 0\.0%\s*$/);
      expect(erring.split('\n')[0]).toMatch(/^mcp-deploy · world → world/);

      // q quits
      term.send('q');
      expect(await term.waitForExit(15_000)).toBe(0);
    },
    150_000,
  );

  it.skipIf(skip !== undefined || transportKind === 'ssh')(
    '2 opens the releases browser and back; l opens the log pane; q quits',
    async () => {
      const term = open();
      await term.waitFor(/health\s+\S*█+ healthy/, 60_000);
      term.send('l');
      const withLog = await term.waitFor('─ active server log', 15_000);
      expect(withLog.split('\n')[0]).toMatch(/^mcp-deploy · world → world/);
      expect(row(withLog, 'health')).not.toBe('');
      term.send('l');
      const deadline = Date.now() + 15_000;
      while (term.screen().includes('─ active server log') && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(term.screen()).not.toContain('─ active server log');
      term.send('2');
      await term.waitFor('newest first', 30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      term.send('q');
      await term.waitFor(/health\s+\S*█+ healthy/, 30_000);
      term.send('q');
      expect(await term.waitForExit(15_000)).toBe(0);
    },
    120_000,
  );
});
