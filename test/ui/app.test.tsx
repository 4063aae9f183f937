import { describe, expect, it } from 'vitest';
import { DeployError } from '../../source/errors.js';
import { App } from '../../source/ui/app.js';
import { fakeEngine, healthFailureSummary, samplePlan, successEvents, successSummary, type FakeScript } from './fake-engine.js';
import { keys, renderTerminal, settle } from './harness.js';

function open(script: FakeScript = {}, size = { columns: 100, rows: 40 }) {
  const engine = fakeEngine(script);
  const screen = renderTerminal(<App engine={engine} view="deploy" color={false} flushMs={20} spinnerMs={50} />, size);
  return { engine, screen };
}

const rowsOf = (frame: string) => frame.replace(/\n$/, '').split('\n');

describe('the plan screen', () => {
  it('shows what would change before anything does: files, bytes, requirements, tools, the session drain and the lock', async () => {
    const { engine, screen } = open();
    const frame = await screen.waitFor((text) => text.includes('Deploy this?'));
    expect(rowsOf(frame)[0]).toBe('mcp-deploy · demo-mcp → prod · deploy@example.org:22 · deploy');
    expect(frame).toContain('active blue:5001 20261124T101500Z-abc1234 · lock free');
    expect(frame).toContain('Plan: a new release for prod — compared with 20261124T101500Z-abc1234');
    expect(frame).toContain('files   +3 new  ~2 changed  -1 removed  · 40 unchanged (linked on the host)');
    expect(frame).toContain('upload  12 kB of 1.2 MB');
    expect(frame).toContain('python  requirements unchanged: venv aaaaaaaaaaaa is reused');
    expect(frame).toContain('tools   +summarize -fetch_doc');
    expect(frame).toContain('drain   waits for 2 active session(s) on blue, until quiet for 30 s, at most 60 s');
    expect(engine.calls.deploy).toBe(0);
  });

  it('says which tool installs a node server’s dependencies and why, and checks engines.node against the host', async () => {
    const plan = samplePlan({
      requirements: {
        kind: 'deps',
        hash: 'c'.repeat(64),
        activeHash: 'c'.repeat(64),
        changed: false,
        why: 'npm ci --omit=dev --no-audit --no-fund: package-lock.json is the lockfile, for node 20 on the host',
        problem: {
          message: 'Node 20.20.2 on the host does not satisfy engines.node ">=22" in package.json.',
          hint: 'Install a Node.js the range allows.',
        },
        node: { version: '20.20.2', engines: '>=22', satisfied: false },
      },
    });
    const { screen } = open({ plan }, { columns: 160, rows: 40 });
    const frame = await screen.waitFor((text) => text.includes('Deploy this?'));
    expect(frame).toContain('install dependencies unchanged: shared/deps cccccccccccc is reused');
    expect(frame).toContain('by      npm ci --omit=dev --no-audit --no-fund: package-lock.json is the lockfile, for node 20 on the host');
    expect(frame).toContain('node    20.20.2 on the host does not satisfy engines.node >=22');
    expect(frame).toContain(
      'problem Node 20.20.2 on the host does not satisfy engines.node ">=22" in package.json. → Install a Node.js the range allows.',
    );
  });

  it('says when sessions are not pinned, so they end at the switch', async () => {
    const { screen } = open({
      plan: samplePlan({ sessions: { pinned: false, colour: 'blue', active: 0, idleSeconds: 30, maxSeconds: 60 } }),
    });
    const frame = await screen.waitFor((text) => text.includes('Deploy this?'));
    expect(frame).toContain('drain   sessions are not pinned: those on blue end at the switch (mcp-deploy doctor)');
  });

  it('warns that a held lock will stop the deploy', async () => {
    const plan = samplePlan({
      lock: {
        held: true,
        info: {
          operator: 'alice',
          localHost: 'laptop',
          pid: 7,
          startedAt: 0,
          startedAtIso: '2026-11-25T08:59:00Z',
          release: null,
          operation: 'deploy',
        },
        ageSeconds: 60,
        stale: false,
      },
    });
    const { screen } = open({ plan });
    const frame = await screen.waitFor((text) => text.includes('Deploy this?'));
    expect(frame).toContain('locked by alice@laptop 1m');
    expect(frame).toContain('lock    held: this deploy will stop at connect; by alice@laptop (deploy), 1m old');
  });

  for (const key of ['q', 'n']) {
    it(`leaves with nothing changed on ${key}`, async () => {
      const { engine, screen } = open();
      await screen.waitFor((text) => text.includes('Deploy this?'));
      await screen.press(key);
      expect(await screen.exitCode()).toBe(0);
      expect(engine.calls.deploy).toBe(0);
      expect(rowsOf(screen.lastFrame()).at(-1)).toBe('Nothing changed on prod.');
    });
  }

  it('deploys on enter', async () => {
    const { engine, screen } = open();
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press(keys.enter);
    await screen.waitFor((text) => text.includes('Serving now:'));
    expect(engine.calls.deploy).toBe(1);
  });

  it('stops with the checks’ verdict and its exit code when validation fails, never asking', async () => {
    const failure = new DeployError('validate', 'Validation failed; nothing was changed on the host.', {
      hint: 'Fix what the checks above report.',
    });
    const { engine, screen } = open({ plan: failure });
    expect(await screen.exitCode()).toBe(1);
    const rows = rowsOf(screen.lastFrame());
    expect(rows.at(-2)).toBe('  → Fix what the checks above report.');
    expect(rows.at(-1)).toBe('✖ Validation failed; nothing was changed on the host.');
    expect(engine.calls.deploy).toBe(0);
  });
});

describe('Ctrl-C', () => {
  it('during a deploy asks the engine to stop safely once, ignores the second, and exits with 130 when the engine is done', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { engine, screen } = open({
      deploy: {
        events: successEvents().slice(0, 7),
        summary: { ...healthFailureSummary(), exitCode: 130, error: { step: 'upload', message: 'interrupted' } },
      },
      deployGate: gate,
    });
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press('y');
    await screen.waitFor((text) => text.includes('Upload release'));
    await screen.press(keys.ctrlC);
    expect(screen.lastFrame()).toContain(
      '■ Stopping safely: rolling back what must be and releasing the lock… Ctrl-C again does not quit.',
    );
    expect(engine.signal.aborted).toBe(true);
    await screen.press(keys.ctrlC);
    await settle();
    expect(screen.lastFrame()).toContain('! Still stopping safely; please wait.');
    // Still running: the app waits for the engine's rollback and unlock.
    await screen.press('q');
    expect(screen.lastFrame()).toContain('A run is in progress: Ctrl-C stops it safely.');
    release();
    expect(await screen.exitCode()).toBe(130);
    expect(rowsOf(screen.lastFrame()).at(-1)).toMatch(/^Serving now: /);
  });

  it('at the plan leaves with nothing changed and exit 130', async () => {
    const { engine, screen } = open();
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press(keys.ctrlC);
    expect(await screen.exitCode()).toBe(130);
    expect(engine.calls.deploy).toBe(0);
    expect(rowsOf(screen.lastFrame()).at(-1)).toBe('■ Interrupted: nothing was changed on prod.');
  });

  it('sent as SIGINT from outside (the run context aborts) ends the plan screen the same way', async () => {
    const { engine, screen } = open();
    await screen.waitFor((text) => text.includes('Deploy this?'));
    engine.controller.abort(new Error('SIGINT'));
    expect(await screen.exitCode()).toBe(130);
    expect(engine.calls.deploy).toBe(0);
  });
});

describe('after the deploy', () => {
  it('follows the active server log on its own connection, and stops following on exit', async () => {
    const { engine, screen } = open({ followLines: ['GET /mcp 200', 'GET /health 200'] });
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press('y');
    const frame = await screen.waitFor((text) => text.includes('GET /health 200'));
    expect(frame).toContain('─ active server log · following');
    expect(engine.calls.follow).toHaveLength(1);
    // Only what comes next: the pane already holds what the server printed during the run, and its
    // last lines again would show twice, out of order (found by an operator filtering the pane).
    expect(engine.calls.follow[0]?.lines).toBe(0);
    await screen.press('q');
    await screen.exitCode();
    expect(engine.calls.follow[0]?.signal.aborted).toBe(true);
  });

  it('hides and shows the log pane with l, and opens the releases browser with 2 and comes back with q', async () => {
    const { screen } = open({ followLines: ['GET /mcp 200'] });
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press('y');
    await screen.waitFor((text) => text.includes('GET /mcp 200'));
    await screen.press('l');
    expect(screen.lastFrame()).not.toContain('GET /mcp 200');
    await screen.press('l');
    expect(screen.lastFrame()).toContain('GET /mcp 200');
    await screen.press('2');
    await screen.waitFor((text) => text.includes('newest first'));
    expect(screen.lastFrame()).toContain('q back');
    await screen.press('q');
    await screen.waitFor((text) => text.includes('Serving now:'));
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
  });
});

describe('the layout', () => {
  it('keeps the frame shorter than the terminal and no wider than it, even under a flood of log lines', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { engine, screen } = open(
      { deploy: { events: successEvents().slice(0, 7), summary: successSummary() }, deployGate: gate },
      { columns: 60, rows: 20 },
    );
    await screen.waitFor((text) => text.includes('Deploy this?'));
    await screen.press('y');
    for (let index = 0; index < 5_000; index += 1)
      engine.bus.emit({ kind: 'log', source: 'server', line: `request ${index} ${'x'.repeat(100)}`, at: 0 });
    const frame = await screen.waitFor((text) => text.includes('request 4999'));
    const rows = rowsOf(frame);
    expect(rows.length).toBeLessThan(20);
    expect(rows.every((row) => row.length <= 60)).toBe(true);
    expect(rows[0]).toMatch(/^mcp-deploy · demo-mcp → prod/);
    release();
    await screen.waitFor((text) => text.includes('Serving now:'));
  });

  it('lays out again when the terminal is resized', async () => {
    const { screen } = open({}, { columns: 100, rows: 40 });
    await screen.waitFor((text) => text.includes('Deploy this?'));
    screen.stdout.resize(60, 14);
    await settle();
    const rows = rowsOf(screen.lastFrame());
    expect(rows.length).toBeLessThan(14);
    expect(rows.every((row) => row.length <= 60)).toBe(true);
    expect(rows.at(-1)).toMatch(/^Deploy this\?/);
  });
});
