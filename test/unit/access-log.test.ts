import { describe, expect, it } from 'vitest';
import {
  addToHistogram,
  emptyHistogram,
  histogramQuantile,
  parseAccessLine,
  quantile,
  tallyByPort,
} from '../../source/engine/access-log.js';

describe('reading nginx access log lines', () => {
  it('takes status, the answering upstream and $request_time from our format', () => {
    expect(parseAccessLine('502 127.0.0.1:5003 0.004 "POST /mcp HTTP/1.1"')).toEqual({ port: 5003, status: 502, ms: 4 });
  });

  it('counts a retried request for the upstream that answered last', () => {
    expect(parseAccessLine('200 127.0.0.1:5002, 127.0.0.1:5003 0.120 "GET / HTTP/1.1"')).toEqual({ port: 5003, status: 200, ms: 120 });
  });

  it('reads a leading $msec without taking it for the status or the time', () => {
    expect(parseAccessLine('1796122944.395 200 127.0.0.1:5002 0.007 "GET / HTTP/1.1"')).toEqual({ port: 5002, status: 200, ms: 7 });
  });

  it('skips lines of other sites and lines without an upstream', () => {
    expect(parseAccessLine('200 10.0.0.4:80 0.001 "GET / HTTP/1.1"')).toBeNull();
    expect(parseAccessLine('404 - 0.000 "GET /favicon.ico HTTP/1.1"')).toBeNull();
    expect(parseAccessLine('')).toBeNull();
  });

  it('tallies by port: requests, 5xx only as errors, the times', () => {
    const text = [
      '200 127.0.0.1:5002 0.001 "a"',
      '404 127.0.0.1:5002 0.002 "b"',
      '503 127.0.0.1:5002 0.003 "c"',
      '200 127.0.0.1:5003 0.010 "d"',
    ].join('\n');
    const tallies = tallyByPort(text);
    expect(tallies.get(5002)).toEqual({ requests: 3, errors: 1, times: [1, 2, 3], okTimes: [1, 2] });
    expect(tallies.get(5003)).toEqual({ requests: 1, errors: 0, times: [10], okTimes: [10] });
  });
});

describe('latency quantiles', () => {
  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(quantile(values, 0.5)).toBe(50);
    expect(quantile(values, 0.99)).toBe(99);
    expect(quantile([7], 0.99)).toBe(7);
    expect(quantile([], 0.5)).toBeNull();
  });

  it('a histogram answers within its bucket (at most a quarter high), in bounded size', () => {
    const histogram = emptyHistogram();
    const values = Array.from({ length: 10_000 }, (_, index) => (index % 100) + 1);
    addToHistogram(histogram, values);
    expect(histogram.counts).toHaveLength(60);
    const p99 = histogramQuantile(histogram, 0.99)!;
    expect(p99).toBeGreaterThanOrEqual(99);
    expect(p99).toBeLessThanOrEqual(99 * 1.25);
    const p50 = histogramQuantile(histogram, 0.5)!;
    expect(p50).toBeGreaterThanOrEqual(50);
    expect(p50).toBeLessThanOrEqual(50 * 1.25);
    expect(histogramQuantile(emptyHistogram(), 0.5)).toBeNull();
  });
});
