import type { HostStatus } from '../../engine/inspect.js';
import { readStatus } from '../../engine/inspect.js';
import { type ColourSample, createStatusSampler } from '../../engine/status-sample.js';
import { describeHolder } from '../../host/lock.js';
import { formatBytes } from '../../run/format.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

export type StatusOptions = GlobalOptions & { readonly watch?: boolean; readonly interval?: string; readonly count?: string };

/** `mcp-deploy status [--json] [--watch]`. */
export async function statusCommand(options: StatusOptions, output: Output): Promise<number> {
  if (options.watch) return watchStatus(options, output);
  return withHost(options, output, async (context, transport) => {
    const status = await readStatus(context, transport);
    if (output.json) output.document(status);
    else output.line(statusLines(output, context.config.app, status).join('\n'));
    return 0;
  });
}

function statusLines(output: Output, app: string, status: HostStatus, samples: readonly ColourSample[] = []): string[] {
  const { paint } = output;
  const lines: string[] = [];
  const active = status.state?.active;
  lines.push(paint.bold(`${app} on ${status.target} (${status.host})`));
  lines.push(active ? `active: ${active.release} on ${active.colour} (port ${active.port})` : 'active: nothing deployed yet');
  if (status.state?.previous) lines.push(`previous: ${status.state.previous}`);
  lines.push(`nginx sends traffic to: ${status.trafficPort === null ? 'no upstream include yet' : `127.0.0.1:${status.trafficPort}`}`);
  if (active && status.trafficPort !== null && status.trafficPort !== active.port) {
    lines.push(
      paint.yellow(`! nginx and state.json disagree: a run was cut off after the switch. The next deploy or rollback repairs it.`),
    );
  }
  for (const colour of status.colours) {
    const health = !colour.running
      ? paint.dim('stopped')
      : colour.healthy
        ? paint.green('healthy')
        : paint.red(`unhealthy: ${colour.problem ?? ''}`);
    const sample = samples.find((candidate) => candidate.colour === colour.colour);
    lines.push(`${colour.colour.padEnd(5)} :${colour.port}  ${health}${sample ? `  ${sampleText(sample)}` : ''}`);
  }
  if (status.lock.held) {
    const stale = status.lock.stale ? ` — stale (${status.lock.staleReason}); break it with: mcp-deploy unlock --force` : '';
    lines.push(paint.yellow(`lock: held by ${describeHolder(status.lock)}${stale}`));
  } else lines.push('lock: free');
  return lines;
}

function sampleText(sample: ColourSample): string {
  const parts = [
    sample.mcpLatencyMs === null ? `mcp: ${sample.mcpProblem ?? 'no answer'}` : `mcp ${Math.round(sample.mcpLatencyMs)} ms`,
    ...(sample.rssBytes === null
      ? []
      : [`cpu ${sample.cpuPercent === null ? '…' : `${sample.cpuPercent.toFixed(1)}%`}`, `mem ${formatBytes(sample.rssBytes)}`]),
    ...(sample.nginx ? [`nginx 5xx ${sample.nginx.errors}/${sample.nginx.requests}`] : []),
  ];
  return parts.join(' · ');
}

/**
 * `status --watch`: the same picture every few seconds, with each running colour's MCP latency,
 * CPU and memory, and nginx's 5xx share for the serving colour. Redraws in place on a terminal,
 * appends blocks otherwise, one JSON object per sample with --json; Ctrl-C (or --count) ends it.
 */
async function watchStatus(options: StatusOptions, output: Output): Promise<number> {
  const intervalMs = Math.max(200, (Number(options.interval ?? '2') || 2) * 1000);
  const count = options.count === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Number.parseInt(options.count, 10) || 1);
  return withHost(options, output, async (context, transport) => {
    const sampler = createStatusSampler(context, transport);
    const redraw = !output.json && output.human.isTTY === true;
    for (let round = 0; round < count && !context.signal.aborted; round += 1) {
      const sample = await sampler.sample();
      if (output.json) output.record({ at: new Date().toISOString(), ...sample });
      else {
        const block = statusLines(output, context.config.app, sample.status, sample.colours).join('\n');
        if (redraw) output.clearScreen();
        output.write(redraw ? `${block}\n(every ${intervalMs / 1000} s · Ctrl-C to stop)\n` : `${block}\n\n`);
      }
      if (round + 1 < count) await sleepUnlessAborted(intervalMs, context.signal);
    }
    return 0;
  });
}

function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
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
