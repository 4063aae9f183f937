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
    expect(summarize(log, 5003)).toEqual({ requests: 3, errors: 1, p99Ms: 120 });
    expect(summarize(log, 5002)).toEqual({ requests: 1, errors: 0, p99Ms: 900 });
    expect(summarize('', 5003)).toEqual({ requests: 0, errors: 0, p99Ms: null });
  });

  it('switches back when the error rate or the p99 crosses its bound, not otherwise', () => {
    const sample = summarize(log, 5003);
    expect(judge(sample, { seconds: 5, maxErrorRate: 0.5 })).toBeNull();
    expect(judge(sample, { seconds: 5, maxErrorRate: 0.1 })).toMatch(/1 of 3 requests through nginx failed \(33% > 10%\)/);
    expect(judge(sample, { seconds: 5, maxErrorRate: 1, maxP99Ms: 100 })).toMatch(/p99 latency through nginx was 120 ms \(> 100 ms\)/);
    expect(judge({ requests: 0, errors: 0, p99Ms: null }, { seconds: 5, maxErrorRate: 0 })).toBeNull();
  });
});
