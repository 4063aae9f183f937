import { describe, expect, it } from 'vitest';
import { App } from '../../source/ui/app.js';
import { sampleSeries } from '../fixtures/status-samples.js';
import { fakeEngine, type FakeScript } from './fake-engine.js';
import { renderTerminal } from './harness.js';

function open(script: FakeScript, size = { columns: 80, rows: 24 }) {
  const engine = fakeEngine(script);
  const screen = renderTerminal(<App engine={engine} view="dashboard" color={false} flushMs={20} dashboard={{ intervalMs: 2000 }} />, size);
  return { engine, screen };
}

const rowsOf = (frame: string) => frame.replace(/\n$/, '').split('\n');
const row = (frame: string, label: string) => rowsOf(frame).find((line) => line.trimStart().startsWith(label)) ?? '';

describe('the dashboard (status --watch in a terminal)', () => {
  it('draws every row per colour within 80×24, the current value beside each sparkline', async () => {
    const { screen } = open({ samples: sampleSeries(30) });
    const frame = await screen.waitFor((text) => /█{30} healthy$/m.test(text));
    const rows = rowsOf(frame);
    expect(rows.length).toBeLessThan(24);
    expect(rows.every((line) => [...line].length <= 80)).toBe(true);
    expect(rows[0]).toBe('mcp-deploy · demo-mcp → prod · deploy@example.org:22 · dashboard');
    expect(rows[1]).toContain('active blue:5002 20261124T101500Z-abc1234 · lock free');
    expect(row(frame, 'health')).toMatch(/█{30} healthy$/);
    expect(row(frame, 'MCP latency')).toMatch(/p50 12 ms p99 30 ms$/);
    expect(row(frame, 'memory')).toMatch(/42\.9 MB$/);
    expect(row(frame, 'requests/s')).toMatch(/10\.0\/s$/);
    expect(row(frame, '5xx rate')).toMatch(/0\.0%$/);
    expect(row(frame, 'upstream time')).toMatch(/p50 4 ms p99 \d+ ms$/);
    expect(row(frame, 'sessions')).toMatch(/—$/);
    expect(frame).toContain('green :5003 stopped');
    expect(rows.at(-1)).toContain('q quit · 2 releases · l log');
  });

  it('a colour that starts failing turns its health row and its 5xx row', async () => {
    const { screen } = open({ samples: sampleSeries(20, { failingFrom: 15 }) });
    const frame = await screen.waitFor((text) => /▁{5} failing$/m.test(text));
    expect(row(frame, 'health')).toMatch(/█{15}▁{5} failing$/);
    expect(row(frame, '5xx rate')).toMatch(/▁{15}█{5} 100\.0%$/);
  });

  it('puts a release mark on the time axis where a deploy happened', async () => {
    const { screen } = open({ samples: sampleSeries(20, { deployAt: 12 }) });
    const frame = await screen.waitFor((text) => text.includes('┆'));
    const axis = rowsOf(frame).find((line) => line.startsWith('last '))!;
    // Column 12 of the 20 samples, right-aligned to "now".
    const marks = [...axis.matchAll(/┆/g)].map((match) => match.index);
    expect(marks).toHaveLength(1);
    const sparkStart = row(frame, 'health').indexOf('█');
    expect(marks[0]! - sparkStart).toBe(12);
    expect(frame).toMatch(/┆ \S+ \S+ deploy → 20261124T101500Z-abc1234 ok by ana/);
  });

  it('q quits with 0', async () => {
    const { screen } = open({ samples: sampleSeries(3) });
    await screen.waitFor((text) => text.includes('healthy'));
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
  });

  it('2 opens the releases browser and q comes back; l opens and closes the log pane', async () => {
    const { engine, screen } = open({ samples: sampleSeries(3), followLines: ['server says hello'] });
    await screen.waitFor((text) => text.includes('healthy'));
    await screen.press('l');
    const withLog = await screen.waitFor((text) => text.includes('server says hello'));
    expect(rowsOf(withLog).length).toBeLessThan(24);
    expect(engine.calls.follow).toHaveLength(1);
    await screen.press('l');
    await screen.waitFor((text) => !text.includes('server says hello'));
    await screen.press('2');
    await screen.waitFor((text) => text.includes('newest first'));
    await screen.press('q');
    await screen.waitFor((text) => text.includes('q quit · 2 releases · l log'));
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
    expect(engine.calls.watch).toBe(1);
  });
});

describe('dashboard keys typed faster than a frame', () => {
  it('"l2" arriving as one input opens the log pane and then the releases browser', async () => {
    const engine = fakeEngine({ samples: sampleSeries(3) });
    const screen = renderTerminal(<App engine={engine} view="dashboard" color={false} flushMs={20} />, { columns: 80, rows: 24 });
    await screen.waitFor((text) => text.includes('healthy'));
    await screen.press('l2');
    await screen.waitFor((text) => text.includes('newest first'));
    expect(engine.calls.follow).toHaveLength(1);
  });
});

describe('rolling back from the dashboard', () => {
  it('2, r, y rolls back with the checklist, and q comes back to the dashboard, whose q quits', async () => {
    const engine = fakeEngine({ samples: sampleSeries(3) });
    const screen = renderTerminal(<App engine={engine} view="dashboard" color={false} flushMs={20} />, { columns: 80, rows: 24 });
    await screen.waitFor((text) => text.includes('healthy'));
    await screen.press('2');
    await screen.waitFor((text) => text.includes('newest first'));
    await screen.press('r');
    await screen.waitFor((text) => text.includes('Roll back to'));
    await screen.press('y');
    await screen.waitFor((text) => text.includes('Serving now:'));
    expect(engine.calls.rollback).toHaveLength(1);
    await screen.press('q');
    const back = await screen.waitFor((text) => text.includes('q quit · 2 releases · l log'));
    expect(back).toMatch(/health\s+\S+ healthy/);
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
    // The sampling went on through it all: one watch, never restarted.
    expect(engine.calls.watch).toBe(1);
  });
});
