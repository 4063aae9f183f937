import type { StatusSample, StatusSampler } from './status-sample.js';

export type SampleLoopOptions = {
  readonly intervalMs: number;
  /** Stop after this many samples (default: until `signal` aborts). */
  readonly count?: number;
  readonly signal: AbortSignal;
  readonly onSample: (sample: StatusSample) => void;
};

/**
 * Takes a sample every `intervalMs` (measured from the start of the previous one, so a slow host
 * stretches the tick instead of piling samples up) until `count` or the signal. Returns how many
 * samples were taken.
 */
export async function sampleEvery(sampler: StatusSampler, options: SampleLoopOptions): Promise<number> {
  const count = options.count ?? Number.POSITIVE_INFINITY;
  let taken = 0;
  while (taken < count && !options.signal.aborted) {
    const started = Date.now();
    let sample: StatusSample;
    try {
      sample = await sampler.sample();
    } catch (error) {
      // Ctrl-C while the sample script runs ends the loop, not the command with an error.
      if (options.signal.aborted) break;
      throw error;
    }
    taken += 1;
    options.onSample(sample);
    if (taken < count) await sleepUnlessAborted(Math.max(0, options.intervalMs - (Date.now() - started)), options.signal);
  }
  return taken;
}

export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
