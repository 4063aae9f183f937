import { describe, expect, it } from 'vitest';
import { App } from '../../source/ui/app.js';
import { initialCursor, listWindow } from '../../source/ui/releases-model.js';
import { activeRelease, fakeEngine, sampleListing } from './fake-engine.js';
import { keys, renderTerminal } from './harness.js';

const previous = '20261120T080000Z-0a0a0a0';

function browse(view: 'releases' | 'rollback' = 'releases', release?: string) {
  const engine = fakeEngine({});
  const screen = renderTerminal(<App engine={engine} view={view} color={false} flushMs={20} {...(release ? { release } : {})} />, {
    columns: 80,
    rows: 24,
  });
  return { engine, screen };
}

const selectedId = (frame: string) => /^› . (\S+)/m.exec(frame)?.[1];

describe('where the cursor starts', () => {
  it('is the previous good release, not a newer failed one', () => {
    expect(sampleListing().rows[initialCursor(sampleListing().rows).cursor]?.id).toBe(previous);
  });

  it('is the newest good release older than the active one when none is marked previous', () => {
    const rows = sampleListing().rows.map((row) => ({ ...row, previous: false }));
    expect(rows[initialCursor(rows).cursor]?.id).toBe(previous);
  });

  it('is the named release when there is one, and says so when there is not', () => {
    const rows = sampleListing().rows;
    expect(rows[initialCursor(rows, '20261101T080000Z-0b0b0b0').cursor]?.id).toBe('20261101T080000Z-0b0b0b0');
    expect(initialCursor(rows, 'nope').message).toBe('There is no release nope on the host.');
  });

  it('keeps the cursor inside the window of a long list', () => {
    expect(listWindow(100, 0, 10)).toEqual({ start: 0, end: 10 });
    expect(listWindow(100, 50, 10)).toEqual({ start: 45, end: 55 });
    expect(listWindow(100, 99, 10)).toEqual({ start: 90, end: 100 });
  });
});

describe('the releases browser', () => {
  it('lists releases newest first with marks, results and the selected release’s tools', async () => {
    const { screen } = browse();
    const frame = await screen.waitFor((text) => text.includes('newest first'));
    expect(frame).toMatch(/✖ 20261126T120000Z-bad0bad failed .* rolled-back/);
    expect(frame).toMatch(new RegExp(`● ${activeRelease} active .* ok`));
    expect(frame).toMatch(new RegExp(`› {3}${previous} previous`));
    expect(frame).toContain('by bob · git 0a0a0a0 · 46 files');
    expect(frame).toContain('tools: search, fetch_doc');
    expect(selectedId(frame)).toBe(previous);
  });

  it('rolls back to the selected release after r and y, with the same checklist as a deploy', async () => {
    const { engine, screen } = browse();
    await screen.waitFor((text) => text.includes('newest first'));
    await screen.press('r');
    expect(screen.lastFrame()).toContain(`Roll back to ${previous}? y rolls back · n keeps things as they are`);
    expect(engine.calls.rollback).toEqual([]);
    await screen.press('y');
    await screen.waitFor((text) => text.includes('Serving now:'));
    expect(engine.calls.rollback).toEqual([previous]);
  });

  it('does nothing after r and n', async () => {
    const { engine, screen } = browse();
    await screen.waitFor((text) => text.includes('newest first'));
    await screen.press('r', 'n');
    expect(screen.lastFrame()).toContain('Nothing changed.');
    expect(engine.calls.rollback).toEqual([]);
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
    expect(engine.calls.rollback).toEqual([]);
  });

  it('moves with ↑/↓ and asks about the release under the cursor', async () => {
    const { engine, screen } = browse();
    await screen.waitFor((text) => text.includes('newest first'));
    await screen.press(keys.down);
    expect(selectedId(screen.lastFrame())).toBe('20261101T080000Z-0b0b0b0');
    await screen.press(keys.up, keys.up);
    expect(selectedId(screen.lastFrame())).toBe(activeRelease);
    await screen.press('r');
    expect(screen.lastFrame()).toContain(`${activeRelease} is already active.`);
    await screen.press(keys.up, 'r', 'y');
    await screen.waitFor((text) => text.includes('Serving now:'));
    expect(engine.calls.rollback).toEqual(['20261126T120000Z-bad0bad']);
  });

  it('opens on the question for `mcp-deploy rollback RELEASE`', async () => {
    const { engine, screen } = browse('rollback', '20261101T080000Z-0b0b0b0');
    await screen.waitFor((text) => text.includes('Roll back to 20261101T080000Z-0b0b0b0?'));
    await screen.press('y');
    await screen.waitFor((text) => text.includes('Serving now:'));
    await screen.press('q');
    expect(await screen.exitCode()).toBe(0);
    expect(engine.calls.rollback).toEqual(['20261101T080000Z-0b0b0b0']);
  });
});
