import { describe, expect, it } from 'vitest';
import { EventBus } from '../../source/run/events.js';
import { App } from '../../source/ui/app.js';
import { EventFeed } from '../../source/ui/event-feed.js';
import { cleanLine, LogStore, maxLineLength } from '../../source/ui/log-store.js';
import { lineTone } from '../../source/ui/log-pane.js';
import { initialLogView, logWindow, scrollLog, editFilter } from '../../source/ui/log-view.js';
import { fakeEngine } from './fake-engine.js';
import { keys, renderTerminal, sleep } from './harness.js';

describe('the log ring buffer', () => {
  it('holds at most its capacity however many lines arrive, keeping the newest in order', () => {
    const store = new LogStore(2_000);
    for (let index = 0; index < 100_000; index += 1) store.push('server', `line ${index}`);
    const entries = store.entries();
    expect(store.size).toBe(2_000);
    expect(store.total).toBe(100_000);
    expect(entries).toHaveLength(2_000);
    expect(entries[0]).toEqual({ seq: 98_000, source: 'server', text: 'line 98000' });
    expect(entries.at(-1)).toEqual({ seq: 99_999, source: 'server', text: 'line 99999' });
  });

  it('filters case-insensitively on what it holds', () => {
    const store = new LogStore(10);
    for (const line of ['GET /mcp 200', 'ERROR boom', 'get /health 200', 'error again']) store.push('server', line);
    expect(store.entries('error').map((entry) => entry.text)).toEqual(['ERROR boom', 'error again']);
    expect(store.entries('GET').map((entry) => entry.text)).toEqual(['GET /mcp 200', 'get /health 200']);
  });

  it('strips terminal escapes and control characters, and cuts a runaway line', () => {
    expect(cleanLine('\u001B[31mred\u001B[0m\tand\u0007 bell')).toBe('red  and bell');
    expect(cleanLine('x'.repeat(50_000))).toHaveLength(maxLineLength + 1);
  });
});

describe("the pane's tones", () => {
  it("dims mcp-deploy's own lines and the server's lines about its probe, and only those", () => {
    expect(lineTone({ source: 'server', text: '2026-12-01 13:00:00 POST /mcp 200 1.2ms tools/call' })).toBe('plain');
    expect(lineTone({ source: 'server', text: '2026-12-01 13:00:00 GET /mcp 405 0.3ms [mcp-deploy-probe]' })).toBe('muted');
    expect(lineTone({ source: 'engine', text: 'health: ok' })).toBe('muted');
  });
});

describe('the log feed', () => {
  it('absorbs a burst of 100k lines with one notification per flush, not one per line', async () => {
    const bus = new EventBus();
    const feed = new EventFeed(bus, { flushMs: 20, capacity: 2_000 });
    let notified = 0;
    feed.subscribe(() => (notified += 1));
    for (let index = 0; index < 100_000; index += 1) bus.emit({ kind: 'log', source: 'server', line: `line ${index}`, at: 0 });
    await sleep(60);
    expect(notified).toBe(1);
    expect(feed.logs.size).toBe(2_000);
    feed.dispose();
  });
});

describe('scrolling the log', () => {
  const store = new LogStore(100);
  for (let index = 0; index < 50; index += 1) store.push('server', `line ${index}`);
  const entries = store.entries();
  const texts = (view = initialLogView, height = 5) => logWindow(entries, view, height).lines.map((entry) => entry.text);

  it('follows the newest lines by default', () => {
    expect(texts()).toEqual(['line 45', 'line 46', 'line 47', 'line 48', 'line 49']);
  });

  it('moves a line with ↑/↓, a page with PgUp/PgDn, to the top with home, and follows again with end or at the bottom', () => {
    const up = scrollLog(initialLogView, 'up', entries, 5);
    expect(up.follow).toBe(false);
    expect(texts(up)).toEqual(['line 44', 'line 45', 'line 46', 'line 47', 'line 48']);
    const page = scrollLog(up, 'pageUp', entries, 5);
    expect(texts(page)).toEqual(['line 40', 'line 41', 'line 42', 'line 43', 'line 44']);
    expect(texts(scrollLog(page, 'pageDown', entries, 5))).toEqual(texts(up));
    expect(texts(scrollLog(page, 'home', entries, 5))).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    expect(scrollLog(page, 'end', entries, 5).follow).toBe(true);
    expect(scrollLog(up, 'down', entries, 5).follow).toBe(true);
  });

  it('stays on the same lines while new ones arrive when scrolled back', () => {
    const growing = new LogStore(100);
    for (let index = 0; index < 50; index += 1) growing.push('server', `line ${index}`);
    const paused = scrollLog(initialLogView, 'pageUp', growing.entries(), 5);
    const before = logWindow(growing.entries(), paused, 5).lines.map((entry) => entry.text);
    for (let index = 50; index < 80; index += 1) growing.push('server', `line ${index}`);
    const after = logWindow(growing.entries(), paused, 5);
    expect(after.lines.map((entry) => entry.text)).toEqual(before);
    expect(after.below).toBe(34);
  });

  it('edits the filter as it is typed: backspace deletes, enter keeps it, escape clears it', () => {
    let view = { ...initialLogView, editing: true };
    const plain = { return: false, escape: false, backspace: false, delete: false };
    view = editFilter(view, 'er', plain);
    view = editFilter(view, 'rx', plain);
    view = editFilter(view, '', { ...plain, backspace: true });
    expect(view.filter).toBe('err');
    expect(editFilter(view, '', { ...plain, return: true })).toMatchObject({ editing: false, filter: 'err' });
    expect(editFilter(view, '', { ...plain, escape: true })).toMatchObject({ editing: false, filter: '' });
  });
});

describe('the logs view', () => {
  const lines = Array.from({ length: 200 }, (_, index) => (index % 10 === 0 ? `ERROR number ${index}` : `info line ${index}`));

  it('fills the terminal with the newest lines and never draws more rows than it has', async () => {
    const engine = fakeEngine({ followLines: lines });
    const view = renderTerminal(<App engine={engine} view="logs" color={false} flushMs={20} />, { columns: 60, rows: 12 });
    const frame = await view.waitFor((text) => text.includes('info line 199'));
    const rows = frame.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^mcp-deploy · demo-mcp → prod/);
    expect(rows.length).toBeLessThan(12);
    expect(rows.every((row) => row.length <= 60)).toBe(true);
    expect(rows.at(-2)).toBe('info line 199');
    await view.press('q');
    expect(await view.exitCode()).toBe(0);
    expect(engine.calls.follow[0]?.signal.aborted).toBe(true);
  });

  it('scrolls with the keys and shows only matching lines after / and a filter', async () => {
    const engine = fakeEngine({ followLines: lines });
    const view = renderTerminal(<App engine={engine} view="logs" color={false} flushMs={20} />, { columns: 60, rows: 12 });
    await view.waitFor((text) => text.includes('info line 199'));
    await view.press(keys.pageUp);
    expect(view.lastFrame()).toContain('paused');
    expect(view.lastFrame()).not.toContain('info line 199');
    await view.press(keys.end);
    expect(view.lastFrame()).toContain('info line 199');
    await view.press('/', 'e', 'r', 'r', 'o', 'r', keys.enter);
    const filtered = view.lastFrame();
    expect(filtered).toContain('filter "error" 20/200');
    expect(filtered).toContain('ERROR number 190');
    expect(filtered).not.toContain('info line');
    // q typed while the filter is being edited is text, not quit.
    await view.press('/', 'q');
    expect(view.lastFrame()).toContain('/errorq');
    await view.press(keys.escape, 'q');
    expect(await view.exitCode()).toBe(0);
  });

  it('takes "/" and the filter typed so fast that they arrive as one input', async () => {
    const engine = fakeEngine({ followLines: lines });
    const view = renderTerminal(<App engine={engine} view="logs" color={false} flushMs={20} />, { columns: 60, rows: 12 });
    await view.waitFor((text) => text.includes('info line 199'));
    await view.press('/line 19', keys.enter);
    expect(view.lastFrame()).toContain('filter "line 19" 10/200');
    await view.press('q');
    expect(await view.exitCode()).toBe(0);
  });
});
