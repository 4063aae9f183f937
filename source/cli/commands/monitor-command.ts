import { runMonitor, type MonitorVerdict } from '../../engine/monitor.js';
import { DeployError } from '../../errors.js';
import { type NotifyReport, notifyReportLines } from '../../notify/notifier.js';
import { sampleLine } from '../../report/sample-line.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

export type MonitorOptions = GlobalOptions & { readonly once?: boolean; readonly for?: string; readonly interval?: string };

/**
 * `mcp-deploy monitor [--once | --for DURATION]`: samples the serving release, judges it against
 * `monitor`'s thresholds, notifies only when the verdict changed, and exits 0 when healthy, 1
 * when not (3 when the host cannot be reached: the scheduler's own failure mail is the alert then).
 */
export async function monitorCommand(options: MonitorOptions, output: Output): Promise<number> {
  if (options.once && options.for !== undefined) {
    throw new DeployError('usage', '--once and --for cannot be used together.', {
      hint: 'Use --once for one sample, or --for 5m for a window.',
    });
  }
  const durationMs = options.for === undefined ? 0 : parseDuration(options.for, '--for');
  return withHost(options, output, async (context, transport) => {
    const intervalMs =
      options.interval === undefined ? context.config.monitor.intervalSeconds * 1000 : parseDuration(options.interval, '--interval');
    let verdict: MonitorVerdict;
    let notified: NotifyReport;
    try {
      verdict = await runMonitor(context, transport, {
        durationMs,
        intervalMs,
        ...(output.json ? {} : { onSample: (sample) => output.line(output.paint.dim(sampleLine(sample, output.paint))) }),
      });
    } finally {
      // The alert went to the notifier on the bus: wait for it before the connection and the process end.
      const report = await context.notifier.flush();
      for (const line of notifyReportLines(report)) output.line(output.paint.yellow(line));
      notified = report;
    }
    if (output.json) output.document({ target: context.target.name, ...verdict, notifications: notified });
    else for (const line of verdictLines(verdict, context.target.name, output)) output.line(line);
    return verdict.healthy ? 0 : 1;
  });
}

function verdictLines(verdict: MonitorVerdict, target: string, output: Output): string[] {
  const { paint } = output;
  const release =
    verdict.release === null ? 'nothing deployed' : `${verdict.release}${verdict.evidence.colour ? ` on ${verdict.evidence.colour}` : ''}`;
  const lines: string[] = [];
  if (verdict.skipped) lines.push(paint.yellow(`- ${verdict.skipped}.`));
  if (verdict.healthy) lines.push(`${paint.green('✔')} ${target}: healthy (${release})`);
  else {
    lines.push(`${paint.red('✖')} ${target}: failing since ${verdict.since} (${release})`);
    for (const problem of verdict.problems) lines.push(`  ${problem}`);
  }
  if (verdict.transition === 'failing') lines.push('An alert was sent (the verdict changed to failing).');
  else if (verdict.transition === 'recovered') lines.push('A recovery message was sent (the verdict changed to ok).');
  else if (!verdict.skipped) lines.push(paint.dim(`No message: the verdict is the same as at the last check.`));
  return lines;
}

/** "90", "90s", "5m", "1h", "500ms" as milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new DeployError('usage', `${flag}: not a duration: ${JSON.stringify(text)}.`, {
      hint: 'Write it as 90s, 5m or 1h (a bare number is seconds).',
    });
  }
  const unit = match[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * factor;
}
