import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logFilterEnv, logScript, parseSince, type LogFilter } from '../../source/engine/log-filter.js';
import { LocalTransport } from '../../source/remote/local-transport.js';

/**
 * The script `logs --grep/--since/--lines` runs on the host, run for real by sh, awk, grep and tail
 * on this machine (the local transport composes exactly what SSH sends): which lines it keeps, and
 * that following never shows a line twice nor loses one.
 */
describe('the log filter on the host', () => {
  let dir: string;
  let file: string;
  const transport = new LocalTransport();

  const run = async (filter: LogFilter, options: { env?: Record<string, string> } = {}) => {
    const lines: string[] = [];
    const result = await transport.stream(
      { script: logScript(file, filter) },
      {
        env: { ...logFilterEnv(filter), ...options.env },
        onLine: (line, stream) => lines.push(`${stream === 'stderr' ? '! ' : ''}${line}`),
      },
    );
    return { code: result.code, lines };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mcpd-logfilter-'));
    file = join(dir, 'server.log');
    writeFileSync(
      file,
      [
        'starting up (no stamp: goes with nothing before it)',
        '2026-11-24T09:59:59.999Z GET /health 200',
        '2026-11-24T10:00:00.000Z POST /mcp 200',
        'Traceback (most recent call last):',
        '  a continuation line of the stamp above',
        '[2026-11-24 11:30:00,120] python logging, local time (+0000 here)',
        '2026-11-24T12:00:00+02:00 an offset: 10:00 UTC',
        '2026/11/24 10:30:00 [error] 12#12: nginx, local time',
        '2026-11-24T09:00:00Z GET /health 503',
        '2026-11-24T11:00:00Z the last line',
        '',
      ].join('\n'),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--since keeps lines stamped at or after the time, with their unstamped continuations', async () => {
    const since = parseSince('2026-11-24T10:00:00Z');
    const { code, lines } = await run({ since, lines: null, follow: false }, { env: { TZ: 'UTC' } });
    expect(code).toBe(0);
    expect(lines).toEqual([
      '2026-11-24T10:00:00.000Z POST /mcp 200',
      'Traceback (most recent call last):',
      '  a continuation line of the stamp above',
      '[2026-11-24 11:30:00,120] python logging, local time (+0000 here)',
      '2026-11-24T12:00:00+02:00 an offset: 10:00 UTC',
      '2026/11/24 10:30:00 [error] 12#12: nginx, local time',
      '2026-11-24T11:00:00Z the last line',
    ]);
  });

  it("a stamp without a zone is the host's local time", async () => {
    // 11:30 in UTC+2 is 09:30 UTC: before the cutoff now.
    const { lines } = await run({ since: parseSince('2026-11-24T10:00Z'), lines: null, follow: false }, { env: { TZ: 'EET-2' } });
    expect(lines.some((line) => line.includes('python logging'))).toBe(false);
    expect(lines.some((line) => line.includes('nginx, local time'))).toBe(false);
    expect(lines).toContain('2026-11-24T12:00:00+02:00 an offset: 10:00 UTC');
  });

  it('a duration counts back from the host clock', async () => {
    const now = new Date();
    appendFileSync(file, `${now.toISOString()} just now\n`);
    const { lines } = await run({ since: parseSince('5m'), lines: null, follow: false });
    expect(lines).toEqual([`${now.toISOString()} just now`]);
  });

  it('--grep is an extended regular expression; --lines keeps the last matches', async () => {
    const { lines } = await run({ grep: 'GET /health (200|503)', lines: 1, follow: false });
    expect(lines).toEqual(['2026-11-24T09:00:00Z GET /health 503']);
    const both = await run({ grep: 'GET /health [0-9]+', lines: 50, follow: false });
    expect(both.lines).toHaveLength(2);
    const none = await run({ grep: 'nothing like this', lines: 50, follow: false });
    expect(none).toEqual({ code: 0, lines: [] });
  });

  it('a pattern grep cannot read, and a file that is not there, end with their own codes', async () => {
    expect((await run({ grep: 'a(b', lines: 50, follow: false })).code).toBe(69);
    const missing = await transport.stream(
      { script: logScript(join(dir, 'nope.log'), { lines: 5, follow: false, grep: 'x' }) },
      { env: { MCPD_GREP: 'x' }, onLine: () => {} },
    );
    expect(missing.code).toBe(66);
  });

  it('following shows the matching history once, then what is appended, each line once', async () => {
    const followed = join(dir, 'followed.log');
    writeFileSync(followed, 'old match 1\nold other\nold match 2\n');
    const controller = new AbortController();
    const seen: string[] = [];
    const filter: LogFilter = { grep: 'match', lines: 50, follow: true };
    const done = transport.stream(
      { script: logScript(followed, filter) },
      {
        env: logFilterEnv(filter),
        signal: controller.signal,
        onLine: (line) => {
          seen.push(line);
          if (seen.length === 2) appendFileSync(followed, 'new other\nnew match 3\n');
          if (seen.length === 3) controller.abort();
        },
      },
    );
    await done;
    expect(seen).toEqual(['old match 1', 'old match 2', 'new match 3']);
  });

  it('parses durations and ISO times, and refuses anything else', () => {
    expect(parseSince('90s')).toEqual({ secondsAgo: 90 });
    expect(parseSince('2h')).toEqual({ secondsAgo: 7200 });
    expect(parseSince('1w')).toEqual({ secondsAgo: 604_800 });
    expect(parseSince('2026-11-24')).toEqual({ epochSeconds: Date.UTC(2026, 10, 24) / 1000 });
    expect(parseSince('2026-11-24T10:00')).toEqual({ epochSeconds: Date.UTC(2026, 10, 24, 10) / 1000 });
    expect(parseSince('2026-11-24T12:00:00+02:00')).toEqual({ epochSeconds: Date.UTC(2026, 10, 24, 10) / 1000 });
    for (const bad of ['yesterday', '10', '-5m', '2026-13-45', '5 m']) expect(() => parseSince(bad), bad).toThrow(/--since/);
  });
});
