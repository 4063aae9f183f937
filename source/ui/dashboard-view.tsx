import type { ReactElement } from 'react';
import { formatAge } from '../run/format.js';
import { markerAxis, metricRows, type MetricRow } from './dashboard-series.js';
import type { ColourSample, StatusSample } from './engine-port.js';
import { Line, Paint } from './paint.js';

/** Columns left of the sparklines (the row's name) and right of them (its current value). */
const labelWidth = 16;
const valueWidth = 24;

export type DashboardLayout = { readonly lines: ReactElement[] };

/**
 * The dashboard's pictures in exactly `height` rows or fewer: the time axis with release marks,
 * the serving colour's rows (health, MCP latency, CPU, memory, requests/s, 5xx, upstream time,
 * sessions), the other colour's as far as they fit, what the last deploy changed, the last audit
 * lines. Every row is one terminal line, cut at the edge, so the frame never outgrows the screen.
 */
export function layoutDashboard(props: {
  readonly samples: readonly StatusSample[];
  readonly failure: string | null;
  readonly width: number;
  readonly height: number;
  readonly intervalMs: number;
}): DashboardLayout {
  const { samples, width, height } = props;
  const spark = Math.max(8, width - labelWidth - valueWidth - 1);
  const last = samples.at(-1);
  const lines: ReactElement[] = [];
  const room = () => height - lines.length;
  if (last === undefined) {
    lines.push(
      <Line key="waiting">
        <Paint tone={props.failure ? 'fail' : 'muted'}>{props.failure ? `✖ ${props.failure}` : 'taking the first sample…'}</Paint>
      </Line>,
    );
    return { lines: lines.slice(0, height) };
  }
  const { axis, marks } = markerAxis(samples, spark);
  const oldest = samples[Math.max(0, samples.length - spark)]!;
  const span = Math.max(Math.round(last.t - oldest.t), Math.round(props.intervalMs / 1000));
  lines.push(
    <Line key="axis">
      <Paint tone="muted">{`${`last ${formatAge(span)}`.padEnd(labelWidth)}${axis} now`}</Paint>
    </Line>,
  );
  const serving = last.colours.filter((colour) => colour.serving || colour.colour === last.active?.colour).slice(0, 1);
  const others = last.colours.filter((colour) => !serving.includes(colour));
  // Rows kept back for the lines under the pictures: findings and at least one audit line.
  const findings = last.comparison?.findings ?? [];
  const reserve = Math.min(2, findings.length) + (last.audit.length > 0 ? 1 : 0) + (props.failure ? 1 : 0);
  for (const colour of [...serving, ...others]) {
    const rows = colour.running ? metricRows(samples, colour.colour, spark) : [];
    const fits = room() - reserve - 1;
    if (fits < 1) break;
    lines.push(colourTitle(colour, last));
    for (const row of rows.slice(0, Math.max(0, fits))) lines.push(metricLine(colour.colour, row));
  }
  if (props.failure && room() > 0) {
    lines.push(
      <Line key="failure">
        <Paint tone="fail">{`✖ sampling stopped: ${props.failure}`}</Paint>
      </Line>,
    );
  }
  for (const [index, finding] of findings.slice(0, Math.min(2, room())).entries()) {
    lines.push(
      <Line key={`finding.${index}`}>
        <Paint tone="warn">{`! ${finding}`}</Paint>
      </Line>,
    );
  }
  const audit = last.audit.slice(-Math.max(0, room()));
  for (const [index, mark] of audit.entries()) {
    const shown = marks.includes(mark) ? '┆ ' : '  ';
    const moved = mark.to === null ? '' : ` → ${mark.to}`;
    lines.push(
      <Line key={`audit.${index}`}>
        <Paint tone="muted">{`${shown}${mark.at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '')} ${mark.operation}${moved} `}</Paint>
        <Paint tone={mark.result === 'ok' ? 'ok' : 'fail'}>{mark.result}</Paint>
        <Paint tone="muted">{` by ${mark.operator}`}</Paint>
      </Line>,
    );
  }
  return { lines: lines.slice(0, height) };
}

function colourTitle(colour: ColourSample, sample: StatusSample): ReactElement {
  const role = colour.serving ? 'serving' : colour.running ? 'idle' : 'stopped';
  const release = colour.release ?? (colour.running ? 'not the active release' : '');
  const process =
    colour.pid === null ? '' : ` · pid ${colour.pid}${colour.processes && colour.processes > 1 ? ` (+${colour.processes - 1})` : ''}`;
  const restarted = colour.restarted ? ' · restarted' : '';
  return (
    <Line key={`title.${colour.colour}`}>
      <Paint tone={colour.serving ? 'ok' : 'muted'} bold={colour.serving}>{`${colour.colour} :${colour.port}`}</Paint>
      <Paint tone="muted">{` ${role}${release ? ` · ${release}` : ''}${process}`}</Paint>
      <Paint tone="warn">{restarted}</Paint>
      <Paint tone="muted">{sample.lock.held && colour.serving ? ' · lock held' : ''}</Paint>
    </Line>
  );
}

function metricLine(colour: string, row: MetricRow): ReactElement {
  return (
    <Line key={`${colour}.${row.key}`}>
      <Paint tone="muted">{`  ${row.label}`.padEnd(labelWidth)}</Paint>
      <Paint tone={row.key === 'health' ? (row.tone === 'fail' ? 'fail' : 'ok') : 'info'}>{row.line}</Paint>{' '}
      <Paint tone={row.tone}>{row.value}</Paint>
    </Line>
  );
}
