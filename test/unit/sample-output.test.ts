import { describe, expect, it } from 'vitest';
import { parseSampleOutput } from '../../source/engine/sample-script.js';

const b = '--mcpd-test--';

describe("the sample script's answer", () => {
  it('is split into its parts by the boundary; the access log part is raw to the end', () => {
    const stdout = [
      `${b} clock`,
      '1796122944.395691812',
      '100',
      '4096',
      '',
      `${b} state`,
      '{"version":1}',
      '',
      `${b} upstream`,
      'upstream x { server 127.0.0.1:5002; }',
      '',
      `${b} lock`,
      'free',
      '',
      `${b} pids 4242 -`,
      '',
      `${b} procs`,
      '4242 1000 350 9000 3',
      '',
      `${b} audit 123`,
      '{"a":1}',
      '',
      `${b} access 5000 4000 0 77`,
      // A line in the log that looks like a boundary of another run is only a line.
      `200 127.0.0.1:5002 0.001 "GET /?q=${b} state HTTP/1.1"`,
      '',
    ].join('\n');
    const parts = parseSampleOutput(stdout, b);
    expect(parts.now).toBeCloseTo(1796122944.3957, 3);
    expect(parts.clockTicks).toBe(100);
    expect(parts.pageSize).toBe(4096);
    expect(parts.state).toBe('{"version":1}');
    expect(parts.lock).toBe('free');
    expect(parts.pids).toEqual({ blue: 4242, green: null });
    expect(parts.trees.get(4242)).toEqual({ pid: 4242, startTicks: 1000, cpuTicks: 350, rssPages: 9000, processes: 3 });
    expect(parts.audit).toEqual({ size: 123, lines: ['{"a":1}'] });
    expect(parts.access).toEqual({
      readable: true,
      size: 5000,
      from: 4000,
      skipped: 0,
      inode: '77',
      text: `200 127.0.0.1:5002 0.001 "GET /?q=${b} state HTTP/1.1"\n`,
    });
  });

  it('reads an unreadable access log and missing parts as such', () => {
    const parts = parseSampleOutput(`${b} clock\n1\n\n${b} access unreadable\n`, b);
    expect(parts.access).toEqual({ readable: false });
    expect(parts.pids).toEqual({ blue: null, green: null });
    expect(parts.lock).toBe('free');
  });
});
