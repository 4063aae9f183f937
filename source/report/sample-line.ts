import type { ChalkInstance } from 'chalk';
import type { ColourSample, StatusSample } from '../engine/status-sample.js';
import { formatBytes } from '../run/format.js';

/**
 * `status --watch` without a terminal: one line per sample, for a log file or a pipe. Fixed
 * order, `key value` pairs, `-` for what is unknown, so `grep` and `awk` can read it.
 */
export function sampleLine(sample: StatusSample, paint: ChalkInstance): string {
  const active = sample.active ? `${sample.active.colour} ${sample.active.release}` : 'nothing';
  const parts = [sample.at, `${sample.target} active ${active}`, ...sample.colours.map((colour) => colourText(colour, paint))];
  parts.push(sample.lock.held ? paint.yellow(`lock held${sample.lock.stale ? ' (stale)' : ''}`) : 'lock free');
  for (const finding of sample.comparison?.findings ?? []) parts.push(paint.yellow(`! ${finding}`));
  if (sample.stateProblem) parts.push(paint.red(sample.stateProblem));
  return parts.join(' | ');
}

function colourText(colour: ColourSample, paint: ChalkInstance): string {
  const name = `${colour.colour}${colour.serving ? '*' : ''}`;
  if (!colour.running) return `${name} ${paint.dim('stopped')}`;
  const health = colour.healthy ? paint.green('healthy') : paint.red(`unhealthy (${colour.problem ?? 'no answer'})`);
  const fields = [
    name,
    health,
    `mcp ${ms(colour.mcp.ms)} p50 ${ms(colour.mcp.p50Ms)} p99 ${ms(colour.mcp.p99Ms)}`,
    `cpu ${colour.cpuPercent === null ? '-' : `${colour.cpuPercent.toFixed(1)}%`}`,
    `mem ${colour.rssBytes === null ? '-' : formatBytes(colour.rssBytes)}`,
  ];
  if (colour.restarted) fields.push(paint.yellow('restarted'));
  const nginx = colour.nginx;
  if (nginx !== null) {
    fields.push(
      `req/s ${nginx.perSecond === null ? '-' : nginx.perSecond.toFixed(1)} 5xx ${nginx.errors}/${nginx.requests} upstream p50 ${ms(nginx.p50Ms)} p99 ${ms(nginx.p99Ms)}`,
    );
  }
  fields.push(`sessions ${colour.sessions ?? '-'}`);
  return fields.join(' ');
}

function ms(value: number | null): string {
  return value === null ? '-' : `${Math.round(value)}ms`;
}
