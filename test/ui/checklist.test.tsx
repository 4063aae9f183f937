import { Box } from 'ink';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../source/run/events.js';
import { App } from '../../source/ui/app.js';
import { checklistLines } from '../../source/ui/checklist.js';
import { ColorContext } from '../../source/ui/paint.js';
import { emptyRun, reduceRun, type RunModel } from '../../source/ui/run-model.js';
import {
  fakeEngine,
  healthFailureEvents,
  healthFailureSummary,
  lockHeldEvents,
  lockHeldSummary,
  newRelease,
  successEvents,
  successSummary,
} from './fake-engine.js';
import { renderTerminal } from './harness.js';

function replay(events: readonly EngineEvent[]): RunModel {
  return events.reduce(reduceRun, emptyRun);
}

/** The checklist alone, drawn as the app draws it. */
function drawChecklist(model: RunModel, options: { width?: number; now?: number } = {}): string {
  const width = options.width ?? 80;
  const view = renderTerminal(
    <ColorContext.Provider value={false}>
      <Box flexDirection="column" width={width}>
        {checklistLines(model.rows, { now: options.now ?? 1_760_000_000_000, width })}
      </Box>
    </ColorContext.Provider>,
    { columns: width, rows: 60 },
  );
  const frame = view.lastFrame();
  view.instance.unmount();
  return frame;
}

describe('the checklist model', () => {
  it('shows the steps a deploy will go through as pending rows once it starts', () => {
    const model = replay(successEvents().slice(0, 1));
    expect(model.rows.map((row) => (row.kind === 'step' ? `${row.id}:${row.status}` : row.kind))).toEqual([
      'prepare:pending',
      'connect:pending',
      'upload:pending',
      'install:pending',
      'start:pending',
      'health:pending',
      'exposure:pending',
      'contract:pending',
      'switch:pending',
      'verify:pending',
      'finalize:pending',
      'sessions:pending',
      'drain:pending',
      'prune:pending',
      'audit:pending',
    ]);
  });

  it('keeps rows that came before the run (the local checks) above the run’s own', () => {
    const validate: EngineEvent[] = [
      { kind: 'step:start', step: 'validate.files', title: 'Collect source files', at: 0 },
      { kind: 'step:done', step: 'validate.files', ms: 5, detail: '46 files' },
    ];
    const model = replay([...validate, ...successEvents()]);
    const ids = model.rows.map((row) => (row.kind === 'step' ? row.id : row.kind));
    expect(ids[0]).toBe('validate.files');
    expect(ids.at(-1)).toBe('audit');
    expect(model.rows.every((row) => row.kind !== 'step' || row.status !== 'pending')).toBe(true);
  });

  it('replaces a pending row by the engine’s own title and keeps progress while the step runs', () => {
    const model = replay(successEvents().slice(0, 7));
    const upload = model.rows.find((row) => row.kind === 'step' && row.id === 'upload');
    expect(upload).toMatchObject({
      status: 'running',
      title: `Upload release ${newRelease}`,
      progress: { done: 6_300, total: 12_600, unit: 'bytes' },
    });
  });

  it('drops the planned steps after a failure, except the audit-and-unlock that still runs', () => {
    const events = healthFailureEvents();
    const failedAt = events.findIndex((event) => event.kind === 'step:failed');
    const model = replay(events.slice(0, failedAt + 1));
    const pending = model.rows
      .filter((row) => row.kind === 'step' && row.status === 'pending')
      .map((row) => (row.kind === 'step' ? row.id : ''));
    expect(pending).toEqual(['audit']);
  });
});

describe('the checklist as drawn', () => {
  it('draws a running step with one spinner frame, its elapsed time and a progress bar with bytes and files', () => {
    const model = replay(successEvents().slice(0, 7));
    const frame = drawChecklist(model, { now: 1_760_000_000_000 + 2_500 });
    expect(frame).toContain(`⠋ Upload release ${newRelease}  2.5 s`);
    expect(frame).toMatch(/█+░+ +50% {2}6\.2 kB \/ 12 kB · 2\/5 files/);
    expect(frame).toContain('· Start the idle colour');
  });

  it('draws a successful deploy as ✔ rows with durations and details, and a skipped step with its reason', () => {
    const frame = drawChecklist(replay(successEvents()));
    expect(frame).toContain('✔ Hash the release files (40 ms) — 46 files');
    expect(frame).toContain("✔ Let blue's sessions finish (12.4 s) — blue's sessions went quiet after 12.4 s");
    expect(frame).toContain('✔ Drain and stop blue (5001) (5.0 s) — blue stopped');
    expect(frame).toContain('- Install dependencies (skipped: no runtime.requirements)');
    expect(frame).not.toContain('·');
  });

  it('draws a failed health check with its message, details and hint, and the rollback rows under it', () => {
    const frame = drawChecklist(replay(healthFailureEvents()));
    const lines = frame.split('\n');
    const failed = lines.findIndex((line) => line.startsWith('✖ Health-check green (30.0 s)'));
    expect(failed).toBeGreaterThan(-1);
    expect(lines.slice(failed + 1, failed + 6)).toEqual([
      '    The green server exited before it answered (exit 1).',
      '    last lines of the server log:',
      '      Traceback (most recent call last):',
      "      ModuleNotFoundError: No module named 'rdflib'",
      '    → Read the server log above; it usually names the missing module or setting.',
    ]);
    expect(lines[failed + 6]).toBe('↺ Rolled back (health failed)');
    expect(lines[failed + 7]).toBe('  ✔ Stop green (5002) (100 ms)');
    expect(lines[failed + 8]).toMatch(/^✔ Write the audit log and unlock/);
  });

  it('wraps a long failure message at 60 columns instead of cutting it', () => {
    const frame = drawChecklist(replay(lockHeldEvents()), { width: 60 });
    expect(frame.split('\n').every((line) => line.length <= 60)).toBe(true);
    expect(frame.replace(/\s+/g, ' ')).toContain('prod is locked by alice@laptop (pid 7) since 2026-11-25T08:59:00Z (1m ago) for deploy.');
    expect(frame.replace(/\s+/g, ' ')).toContain('→ Wait for it to finish, or if it is stale, run: mcp-deploy unlock --force');
  });
});

describe('a recorded run in the app', () => {
  async function deployWith(events: readonly EngineEvent[], summary: ReturnType<typeof successSummary>, size = { columns: 100, rows: 40 }) {
    const engine = fakeEngine({ deploy: { events, summary }, followLines: ['server ready'] });
    const view = renderTerminal(<App engine={engine} view="deploy" color={false} flushMs={20} spinnerMs={50} />, size);
    await view.waitFor((frame) => frame.includes('Deploy this?'));
    await view.press('y');
    return { engine, view };
  }

  it('ends a successful deploy with a final line saying what serves now, and exits 0 on q', async () => {
    const { view } = await deployWith(successEvents(), successSummary());
    const frame = await view.waitFor((text) => text.includes('Serving now:'));
    const lines = frame.trimEnd().split('\n');
    expect(lines.at(-3)).toBe('✔ Deployed.');
    expect(lines.at(-2)).toBe(`Serving now: release ${newRelease} on green (port 5002).`);
    expect(lines.at(-1)).toMatch(/^q quit · 2 releases/);
    await view.press('q');
    expect(await view.exitCode()).toBe(0);
    // The last frame left on the terminal ends with the result, without key hints or the log pane.
    expect(view.lastFrame().trimEnd().split('\n').at(-1)).toBe(`Serving now: release ${newRelease} on green (port 5002).`);
  });

  it('after a failed health check shows the rollback and what serves now, then exits 1', async () => {
    const { view } = await deployWith(healthFailureEvents(), healthFailureSummary());
    const frame = await view.waitFor((text) => text.includes('Serving now:'));
    expect(frame).toContain('✖ Health-check green (30.0 s)');
    expect(frame).toContain('↺ Rolled back (health failed)');
    expect(frame).toContain('✖ Deploy failed at health; rolled back.');
    expect(frame).toContain('Serving now: release 20261124T101500Z-abc1234 on blue (port 5001).');
    await view.press('q');
    expect(await view.exitCode()).toBe(1);
  });

  it('when the lock is held, says who holds it and what to do, that nothing changed, and exits 4', async () => {
    const { view } = await deployWith(lockHeldEvents(), lockHeldSummary());
    const frame = await view.waitFor((text) => text.includes('nothing was changed'));
    expect(frame).toContain('✖ Connect to prod and take the lock');
    expect(frame).toContain('prod is locked by alice@laptop');
    expect(frame).toContain('→ Wait for it to finish, or if it is stale, run: mcp-deploy unlock --force');
    expect(frame).toContain('✖ Deploy stopped at connect: nothing was changed on prod.');
    expect(frame).not.toContain('Serving now');
    await view.press('q');
    expect(await view.exitCode()).toBe(4);
  });
});
