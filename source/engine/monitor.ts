import type { MonitorConfig } from '../config/schema.js';
import { hostLayout } from '../host/layout.js';
import { type MonitorState, readMonitorState, releaseMonitorLock, takeMonitorLock, writeMonitorState } from '../host/monitor-state.js';
import type { Transport } from '../remote/transport.js';
import type { MonitorAlert, MonitorEvidence } from '../run/events.js';
import { addToWindow, emptyWindow, histogramCount, histogramQuantile, type TrafficWindow } from './access-log.js';
import type { EngineContext } from './context.js';
import { percent } from './degradation.js';
import { sampleEvery } from './sample-loop.js';
import { type ColourSample, createStatusSampler, type StatusSample } from './status-sample.js';

/**
 * `mcp-deploy monitor`: the status sampler for a window (one sample with --once), judged against
 * the `monitor` thresholds. Only a change of verdict is news: the last one is kept on the host
 * (monitor.json), so runs from cron, a timer or a scheduled CI job, from any machine, never repeat
 * an alert. The engine emits the transition as an event; the notifier sends it.
 */

export type MonitorOptions = {
  /** How long to sample; 0 takes one sample (--once). */
  readonly durationMs: number;
  readonly intervalMs: number;
  /** Each sample as it is taken (the plain line, NDJSON). */
  readonly onSample?: (sample: StatusSample) => void;
};

export type MonitorVerdict = {
  readonly healthy: boolean;
  readonly state: 'ok' | 'failing';
  /** What changed since the last run; null when nothing did (no message is sent). */
  readonly transition: MonitorAlert['transition'] | null;
  readonly problems: readonly string[];
  /** Set when the run judged nothing because a deploy or rollback holds the lock; the last verdict stands. */
  readonly skipped?: string;
  readonly since: string;
  readonly release: string | null;
  readonly evidence: MonitorEvidence;
};

export async function runMonitor(context: EngineContext, transport: Transport, options: MonitorOptions): Promise<MonitorVerdict> {
  const layout = hostLayout(context.target.path);
  if ((await takeMonitorLock(transport, layout)) === 'busy') {
    const previous = await readMonitorState(transport, layout);
    return standing(previous, `another monitor run holds ${layout.monitorLock}: nothing was judged, the last verdict stands`);
  }
  try {
    return await judgeRun(context, transport, options);
  } finally {
    await releaseMonitorLock(transport, layout);
  }
}

/** The last verdict, unchanged, when this run may not judge. */
function standing(previous: MonitorState | null, why: string): MonitorVerdict {
  const state = previous?.state ?? 'ok';
  const evidence: MonitorEvidence = {
    colour: null,
    health: 'not checked',
    requests: null,
    errors: null,
    errorRate: null,
    p99Ms: null,
    rssBytes: null,
    restarts: 0,
    samples: 0,
    windowSeconds: 0,
    comparison: [],
  };
  return {
    healthy: state === 'ok',
    state,
    transition: null,
    problems: previous?.problems ?? [],
    skipped: why,
    since: previous?.since ?? new Date().toISOString(),
    release: previous?.release ?? null,
    evidence,
  };
}

async function judgeRun(context: EngineContext, transport: Transport, options: MonitorOptions): Promise<MonitorVerdict> {
  const { config, target } = context;
  const layout = hostLayout(target.path);
  const previous = await readMonitorState(transport, layout);
  const traffic = new Map<number, TrafficWindow>();
  const sampler = createStatusSampler(context, transport, {
    ...(previous?.accessCursor ? { accessCursor: previous.accessCursor } : {}),
    ...(previous?.windows ? { windows: previous.windows } : {}),
    onTally: (port, tally) => {
      const window = traffic.get(port) ?? emptyWindow();
      addToWindow(window, tally);
      traffic.set(port, window);
    },
  });
  const samples: StatusSample[] = [];
  try {
    const count = options.durationMs <= 0 ? 1 : Math.floor(options.durationMs / options.intervalMs) + 1;
    await sampleEvery(sampler, {
      intervalMs: options.intervalMs,
      count,
      signal: context.signal,
      onSample: (sample) => {
        samples.push(sample);
        options.onSample?.(sample);
      },
    });
  } finally {
    await sampler.close();
  }
  const first = samples[0];
  const last = samples.at(-1);
  if (first === undefined || last === undefined) throw context.signal.reason ?? new Error('no sample was taken');

  const serving = servingColour(last);
  const restarts = countRestarts(samples, previous);
  const window = last.active === null ? emptyWindow() : (traffic.get(last.active.port) ?? emptyWindow());
  const evidence = evidenceOf(samples, serving, window, restarts, config.watch?.accessLog !== undefined);
  const release = last.active?.release ?? null;

  const deploying = deployInProgress(last);
  if (deploying !== null) {
    const state = previous?.state ?? 'ok';
    return {
      healthy: state === 'ok',
      state,
      transition: null,
      problems: previous?.problems ?? [],
      skipped: deploying,
      since: previous?.since ?? last.at,
      release,
      evidence,
    };
  }

  const problems = judgeMonitor({ sample: last, serving, window, restarts }, config.monitor);
  const state = problems.length > 0 ? 'failing' : 'ok';
  // A first run that finds a failure tells: nobody has been told yet. A first run that finds all well is quiet.
  const transition: MonitorVerdict['transition'] =
    state === 'failing' ? (previous?.state === 'failing' ? null : 'failing') : previous?.state === 'failing' ? 'recovered' : null;
  const since = transition === null && previous !== null ? previous.since : last.at;
  const memory = sampler.memory();
  const next: MonitorState = {
    version: 1,
    state,
    since,
    checkedAt: last.at,
    release,
    problems: [...problems],
    accessCursor: config.watch?.accessLog === undefined ? null : memory.accessCursor,
    windows: memory.windows,
    process:
      serving?.pid != null && serving.startTicks !== null
        ? { pid: serving.pid, startTicks: serving.startTicks, release, colour: serving.colour }
        : null,
  };
  // Recorded before anyone is told: if the record cannot be written, no alert goes out that the next run would repeat.
  await writeMonitorState(transport, layout, next);
  if (transition !== null) {
    context.bus.emit({
      kind: 'monitor',
      alert: {
        transition,
        target: target.name,
        release,
        problems: transition === 'failing' ? problems : [],
        since: transition === 'recovered' ? (previous?.since ?? last.at) : last.at,
        at: last.at,
        evidence,
      },
    });
  }
  return { healthy: state === 'ok', state, transition, problems, since, release, evidence };
}

export type MonitorInput = {
  readonly sample: StatusSample;
  readonly serving: ColourSample | null;
  /** What nginx logged for the serving colour over the run. */
  readonly window: TrafficWindow;
  readonly restarts: number;
};

/** Pure: every threshold the serving release crosses, in words. */
export function judgeMonitor(input: MonitorInput, thresholds: MonitorConfig): string[] {
  const { sample, serving, window } = input;
  const problems: string[] = [];
  if (sample.active === null)
    problems.push(`down: nothing is deployed on ${sample.target}${sample.stateProblem ? ` (${sample.stateProblem})` : ''}`);
  else if (serving === null || !serving.running) problems.push(`down: ${sample.active.colour} (port ${sample.active.port}) is not running`);
  else if (serving.healthy === false) problems.push(`down: ${serving.colour} fails its checks: ${serving.problem ?? 'no answer'}`);
  if (sample.active !== null && sample.trafficPort !== sample.active.port) {
    problems.push(
      `nginx sends traffic to ${sample.trafficPort === null ? 'no upstream' : `port ${sample.trafficPort}`}, not to ${sample.active.colour} (${sample.active.port})`,
    );
  }
  const enough = window.requests >= thresholds.minRequests;
  if (enough && window.errors / window.requests > thresholds.maxErrorRate) {
    problems.push(
      `error rate: ${window.errors} of ${window.requests} requests through nginx failed (${percent(window.errors / window.requests)} > ${percent(thresholds.maxErrorRate)})`,
    );
  }
  const p99 = histogramQuantile(window.latency, 0.99);
  if (
    histogramCount(window.latency) >= thresholds.minRequests &&
    thresholds.maxP99Ms !== undefined &&
    p99 !== null &&
    p99 > thresholds.maxP99Ms
  ) {
    problems.push(`p99: ${p99} ms through nginx (> ${thresholds.maxP99Ms} ms)`);
  }
  if (thresholds.maxMemoryMB !== undefined && serving?.rssBytes != null && serving.rssBytes > thresholds.maxMemoryMB * 1e6) {
    problems.push(`memory: ${Math.round(serving.rssBytes / 1e6)} MB resident (> ${thresholds.maxMemoryMB} MB)`);
  }
  if (input.restarts > thresholds.maxRestarts) {
    problems.push(`restarts: the server restarted ${input.restarts} time(s) (more than ${thresholds.maxRestarts})`);
  }
  for (const finding of sample.comparison?.findings ?? []) problems.push(`degraded: ${finding}`);
  return problems;
}

function servingColour(sample: StatusSample): ColourSample | null {
  const active = sample.active;
  return active === null ? null : (sample.colours.find((colour) => colour.colour === active.colour) ?? null);
}

/** New processes for the same release: between samples of this run, and since the last run's. */
function countRestarts(samples: readonly StatusSample[], previous: MonitorState | null): number {
  let restarts = samples.filter((sample) => servingColour(sample)?.restarted === true).length;
  const first = samples[0] === undefined ? null : servingColour(samples[0]);
  const before = previous?.process;
  if (
    first?.pid != null &&
    before &&
    before.release === first.release &&
    (before.pid !== first.pid || before.startTicks !== first.startTicks)
  ) {
    restarts += 1;
  }
  return restarts;
}

/**
 * A live deploy, rollback or restart switches colours: what a monitor sees meanwhile is not a
 * failure. A lock taken on purpose (`mcp-deploy lock acquire`) or by a prune moves no traffic:
 * the release is judged as usual.
 */
function deployInProgress(sample: StatusSample): string | null {
  const lock = sample.lock;
  if (!lock.held || lock.stale) return null;
  if (lock.info !== null && !['deploy', 'rollback', 'restart'].includes(lock.info.operation)) return null;
  const what = lock.info ? `${lock.info.operation} by ${lock.info.operator}` : 'a deploy';
  return `${what} holds the lock on ${sample.target}: nothing was judged, the last verdict stands`;
}

function evidenceOf(
  samples: readonly StatusSample[],
  serving: ColourSample | null,
  window: TrafficWindow,
  restarts: number,
  hasAccessLog: boolean,
): MonitorEvidence {
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const health =
    serving === null
      ? 'nothing serves'
      : !serving.running
        ? 'not running'
        : serving.healthy
          ? 'healthy'
          : `unhealthy: ${serving.problem ?? ''}`;
  return {
    colour: serving?.colour ?? null,
    health,
    requests: hasAccessLog ? window.requests : null,
    errors: hasAccessLog ? window.errors : null,
    errorRate: hasAccessLog && window.requests > 0 ? window.errors / window.requests : null,
    p99Ms: hasAccessLog ? histogramQuantile(window.latency, 0.99) : null,
    rssBytes: serving?.rssBytes ?? null,
    restarts,
    samples: samples.length,
    windowSeconds: Math.round((last.t - first.t) * 10) / 10,
    comparison: last.comparison?.findings ?? [],
  };
}
