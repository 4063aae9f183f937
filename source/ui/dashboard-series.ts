import sparkly from 'sparkly';
import { type AuditMark, changedRelease, type ColourSample, type StatusSample } from './engine-port.js';

/**
 * The dashboard's pictures as data: for the last `width` samples, one column each, every row's
 * sparkline and the release marks on the same time axis. A sample where a value is unknown (the
 * colour stopped, no request in the tick) is a gap, not a zero: sparkly draws non-numbers as a
 * space, which is why it was chosen (a gap keeps the columns on time).
 */

export type MetricKey = 'health' | 'mcp' | 'cpu' | 'memory' | 'requests' | 'errors' | 'upstream' | 'sessions';

export type MetricRow = {
  readonly key: MetricKey;
  readonly label: string;
  /** The sparkline, exactly `width` columns. */
  readonly line: string;
  /** The current value, in words. */
  readonly value: string;
  readonly tone: 'plain' | 'ok' | 'fail' | 'warn' | 'muted';
};

const gap = Number.NaN;

/** The samples the columns show: the newest `width`, oldest first, left-padded so "now" is at the right edge. */
export function visible(samples: readonly StatusSample[], width: number): (StatusSample | null)[] {
  const shown = samples.slice(-width);
  return [...new Array<null>(Math.max(0, width - shown.length)).fill(null), ...shown];
}

function line(values: readonly number[], options: { minimum?: number; maximum?: number } = {}): string {
  // sparkly scales to the finite values it gets; with none there is nothing to scale.
  if (!values.some(Number.isFinite)) return ' '.repeat(values.length);
  return sparkly([...values], options);
}

function colourOf(sample: StatusSample | null, colour: string): ColourSample | undefined {
  return sample?.colours.find((candidate) => candidate.colour === colour);
}

export function metricRows(samples: readonly StatusSample[], colour: string, width: number): MetricRow[] {
  const columns = visible(samples, width);
  const of = (pick: (sample: ColourSample) => number | null | undefined) =>
    columns.map((sample) => {
      const value = colourOf(sample, colour);
      const picked = value === undefined ? null : pick(value);
      return picked === null || picked === undefined ? gap : picked;
    });
  const now = colourOf(samples.at(-1) ?? null, colour);
  const nginx = now?.nginx ?? null;
  const health = of((sample) => (sample.running ? (sample.healthy ? 1 : 0) : null));
  const rows: MetricRow[] = [
    {
      key: 'health',
      label: 'health',
      line: line(health, { minimum: 0, maximum: 1 }),
      value: now === undefined ? '…' : !now.running ? 'stopped' : now.healthy ? 'healthy' : 'failing',
      tone: now === undefined || !now.running ? 'muted' : now.healthy ? 'ok' : 'fail',
    },
    {
      key: 'mcp',
      label: 'MCP latency',
      line: line(of((sample) => sample.mcp.ms)),
      value: now?.running ? `p50 ${ms(now.mcp.p50Ms)} p99 ${ms(now.mcp.p99Ms)}` : '—',
      tone: 'plain',
    },
    {
      key: 'cpu',
      label: 'CPU',
      line: line(
        of((sample) => sample.cpuPercent),
        { minimum: 0 },
      ),
      value: now?.cpuPercent == null ? '—' : `${now.cpuPercent.toFixed(1)}%`,
      tone: 'plain',
    },
    {
      key: 'memory',
      label: 'memory',
      line: line(of((sample) => sample.rssBytes)),
      value: now?.rssBytes == null ? '—' : `${(now.rssBytes / 1e6).toFixed(1)} MB`,
      tone: 'plain',
    },
    {
      key: 'requests',
      label: 'requests/s',
      line: line(
        of((sample) => sample.nginx?.perSecond),
        { minimum: 0 },
      ),
      value: nginx?.perSecond == null ? '—' : `${nginx.perSecond.toFixed(1)}/s`,
      tone: 'plain',
    },
    {
      key: 'errors',
      label: '5xx rate',
      line: line(
        of((sample) => sample.nginx?.errorRate),
        { minimum: 0, maximum: 1 },
      ),
      value: nginx === null ? '—' : nginx.errorRate === null ? 'no requests' : `${(nginx.errorRate * 100).toFixed(1)}%`,
      tone: nginx?.errorRate ? 'fail' : 'plain',
    },
    {
      key: 'upstream',
      label: 'upstream time',
      line: line(
        of((sample) => sample.nginx?.p99Ms),
        { minimum: 0 },
      ),
      value: nginx === null || nginx.p99Ms === null ? '—' : `p50 ${ms(nginx.p50Ms)} p99 ${ms(nginx.p99Ms)}`,
      tone: 'plain',
    },
    {
      key: 'sessions',
      label: 'sessions',
      line: line(of((sample) => sample.sessions)),
      value: now?.sessions == null ? '—' : String(now.sessions),
      tone: 'plain',
    },
  ];
  return rows;
}

/**
 * The time axis under the sparklines: `┆` at each column where a deploy or rollback changed
 * what serves (the first sample at or after the audit record's time), `·` elsewhere.
 */
export function markerAxis(samples: readonly StatusSample[], width: number): { axis: string; marks: AuditMark[] } {
  const columns = visible(samples, width);
  const marks = (samples.at(-1)?.audit ?? []).filter((mark) => changedRelease(mark) && mark.t !== null);
  const cells = columns.map(() => '·');
  const shown: AuditMark[] = [];
  const firstShown = columns.findIndex((sample) => sample !== null);
  for (const mark of marks) {
    const at = mark.t!;
    const index = columns.findIndex((sample) => sample !== null && sample.t >= at);
    // Before the oldest sample on screen: it scrolled off, or came before the dashboard opened.
    if (index <= firstShown) continue;
    cells[index] = '┆';
    shown.push(mark);
  }
  return { axis: cells.join(''), marks: shown };
}

function ms(value: number | null): string {
  return value === null ? '—' : `${Math.round(value)} ms`;
}
