import { describe, expect, it } from 'vitest';
import type { MonitorConfig } from '../../source/config/schema.js';
import { addToWindow, emptyWindow } from '../../source/engine/access-log.js';
import { compareWindows } from '../../source/engine/degradation.js';
import { cpuPercent } from '../../source/engine/metrics.js';
import { judgeMonitor } from '../../source/engine/monitor.js';
import { sampleSeries } from '../fixtures/status-samples.js';

const thresholds: MonitorConfig = { maxErrorRate: 0.05, maxRestarts: 0, maxSlowdown: 0.5, minRequests: 20, intervalSeconds: 10 };

const window = (requests: number, errors: number, ms: number) => {
  const result = emptyWindow();
  const times = new Array<number>(requests).fill(ms);
  addToWindow(result, { requests, errors, times, okTimes: times.slice(errors) });
  return result;
};

describe('the monitor thresholds', () => {
  const healthy = sampleSeries(1)[0]!;
  const serving = healthy.colours[0]!;

  it('finds nothing wrong with a healthy release under light, clean traffic', () => {
    expect(judgeMonitor({ sample: healthy, serving, window: window(100, 1, 20), restarts: 0 }, thresholds)).toEqual([]);
  });

  it('says down when the serving colour fails its checks, or runs nothing', () => {
    const failing = sampleSeries(1, { failingFrom: 0 })[0]!;
    expect(judgeMonitor({ sample: failing, serving: failing.colours[0]!, window: emptyWindow(), restarts: 0 }, thresholds)).toEqual([
      'down: blue fails its checks: GET /health: expected status 200, got 500',
    ]);
    const stopped = { ...serving, running: false, healthy: null };
    expect(judgeMonitor({ sample: healthy, serving: stopped, window: emptyWindow(), restarts: 0 }, thresholds)).toEqual([
      'down: blue (port 5002) is not running',
    ]);
  });

  it('judges the error rate and p99 only with enough requests', () => {
    expect(judgeMonitor({ sample: healthy, serving, window: window(19, 19, 5000), restarts: 0 }, { ...thresholds, maxP99Ms: 100 })).toEqual(
      [],
    );
    expect(judgeMonitor({ sample: healthy, serving, window: window(40, 4, 5000), restarts: 0 }, { ...thresholds, maxP99Ms: 100 })).toEqual([
      'error rate: 4 of 40 requests through nginx failed (10% > 5.0%)',
      expect.stringMatching(/^p99: \d+ ms through nginx \(> 100 ms\)$/),
    ]);
  });

  it('counts memory in MB and restarts above the allowance', () => {
    const heavy = { ...serving, rssBytes: 600_000_000 };
    expect(
      judgeMonitor({ sample: healthy, serving: heavy, window: emptyWindow(), restarts: 1 }, { ...thresholds, maxMemoryMB: 512 }),
    ).toEqual(['memory: 600 MB resident (> 512 MB)', 'restarts: the server restarted 1 time(s) (more than 0)']);
    expect(judgeMonitor({ sample: healthy, serving, window: emptyWindow(), restarts: 1 }, { ...thresholds, maxRestarts: 1 })).toEqual([]);
  });
});

describe('degradation against the release before', () => {
  const options = { release: 'v2', before: 'v1', maxSlowdown: 0.5, minRequests: 20 };

  it('says when the release since the last deploy is slower or errs more', () => {
    const result = compareWindows(window(120, 10, 200), window(120, 1, 50), options);
    expect(result.measure).toBe('p99');
    expect(result.findings).toEqual([
      expect.stringMatching(/^v2 is slower than v1: p99 \d+ ms vs \d+ ms \(\+\d+%, more than 50%\)$/),
      'v2 errs more than v1: 8.3% 5xx vs 0.8%',
    ]);
    expect(result.slowdown).toBeGreaterThan(2);
  });

  it('compares the p50 while there are too few answers for a p99: one cold-start outlier is no slowdown', () => {
    const cold = emptyWindow();
    const times = [...new Array<number>(29).fill(3), 70];
    addToWindow(cold, { requests: 30, errors: 0, times, okTimes: times });
    const result = compareWindows(cold, window(30, 0, 3), options);
    expect(result.measure).toBe('p50');
    expect(result.findings).toEqual([]);
    expect(compareWindows(window(30, 0, 9), window(30, 0, 3), options).findings).toEqual([
      expect.stringMatching(/^v2 is slower than v1: p50 \d+ ms vs \d+ ms/),
    ]);
  });

  it('compares latency over answers that did not fail: a release that failed fast is no baseline', () => {
    expect(compareWindows(window(100, 0, 70), window(100, 95, 3), options).findings).toEqual([]);
  });

  it('says nothing on too few requests, or within the bounds', () => {
    expect(compareWindows(window(10, 10, 900), window(100, 0, 50), options).findings).toEqual([]);
    expect(compareWindows(window(100, 1, 60), window(100, 1, 50), options).findings).toEqual([]);
  });
});

describe('CPU as a rate', () => {
  const reading = (cpuTicks: number, at: number, startTicks = 7) => ({
    pid: 9,
    startTicks,
    cpuTicks,
    rssPages: 1,
    processes: 1,
    at,
    clockTicks: 100,
  });
  it('is the tree CPU time over wall time between two readings of the same process', () => {
    expect(cpuPercent(reading(100, 10), reading(150, 12))).toBe(25);
  });
  it('is unknown across a restart (another start time) or at the first reading', () => {
    expect(cpuPercent(reading(100, 10), reading(150, 12, 8))).toBeNull();
    expect(cpuPercent(undefined, reading(150, 12))).toBeNull();
  });
});
