import { describe, expect, it } from 'vitest';
import { judge, summarize } from '../../source/engine/watch.js';

const log = [
  '200 127.0.0.1:5003 0.004 "POST /mcp HTTP/1.1"',
  '502 127.0.0.1:5003 0.001 "GET /health HTTP/1.1"',
  '200 127.0.0.1:5002 0.900 "GET /health HTTP/1.1"',
  '200 127.0.0.1:5003 0.120 "GET /ontology/status HTTP/1.1"',
  '',
].join('\n');

describe('the post-cutover watch window', () => {
  it('counts only the new upstream, its 5xx answers and its p99', () => {
    expect(summarize(log, 5003)).toMatchObject({ requests: 3, errors: 1, p99Ms: 120 });
    expect(summarize(log, 5002)).toMatchObject({ requests: 1, errors: 0, p99Ms: 900 });
    expect(summarize('', 5003)).toMatchObject({ requests: 0, errors: 0, p99Ms: null });
  });

  it('switches back when the error rate or the p99 crosses its bound, not otherwise', () => {
    const sample = summarize(log, 5003);
    expect(judge(sample, { seconds: 5, maxErrorRate: 0.5 })).toBeNull();
    expect(judge(sample, { seconds: 5, maxErrorRate: 0.1 })).toMatch(/1 of 3 requests through nginx failed \(33% > 10%\)/);
    expect(judge(sample, { seconds: 5, maxErrorRate: 1, maxP99Ms: 100 })).toMatch(/p99 latency through nginx was 120 ms \(> 100 ms\)/);
    expect(judge({ requests: 0, errors: 0, p99Ms: null }, { seconds: 5, maxErrorRate: 0 })).toBeNull();
  });
});

describe('the relative bound (watch.maxSlowdown)', () => {
  const lines = (port: number, seconds: string, count: number) => `200 127.0.0.1:${port} ${seconds} "GET / HTTP/1.1"\n`.repeat(count);

  it('switches back when the new colour is slower than the old one was before the switch by more than the bound', () => {
    const before = summarize(lines(5002, '0.010', 20), 5002);
    const after = summarize(lines(5003, '0.031', 20), 5003);
    expect(judge(after, { seconds: 5, maxErrorRate: 1, maxSlowdown: 2 }, before)).toMatch(
      /p50 latency through nginx was 31 ms, 210% above the old release's 10 ms before the switch \(more than 200%\)/,
    );
    expect(judge(after, { seconds: 5, maxErrorRate: 1, maxSlowdown: 2.5 }, before)).toBeNull();
    // Off without the key, or without a before
    expect(judge(after, { seconds: 5, maxErrorRate: 1 }, before)).toBeNull();
    expect(judge(after, { seconds: 5, maxErrorRate: 1, maxSlowdown: 0.1 }, null)).toBeNull();
  });

  it('compares the p99 from 100 answers on both sides, the p50 before: one slow request is no slowdown', () => {
    const before = summarize(lines(5002, '0.010', 150), 5002);
    const oneSlow = summarize(lines(5003, '0.010', 30) + lines(5003, '0.900', 1), 5003);
    expect(judge(oneSlow, { seconds: 5, maxErrorRate: 1, maxSlowdown: 0.5 }, before)).toBeNull();
    const tail = summarize(lines(5003, '0.010', 140) + lines(5003, '0.500', 10), 5003);
    expect(judge(tail, { seconds: 5, maxErrorRate: 1, maxSlowdown: 0.5 }, before)).toMatch(/^p99 latency through nginx was 500 ms/);
  });

  it('judges no slowdown on a handful of requests', () => {
    const before = summarize(lines(5002, '0.010', 20), 5002);
    const few = summarize(lines(5003, '0.500', 9), 5003);
    expect(judge(few, { seconds: 5, maxErrorRate: 1, maxSlowdown: 0.1 }, before)).toBeNull();
  });
});
