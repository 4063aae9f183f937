import type { HostStatus } from '../../engine/inspect.js';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { onEveryHost } from './fleet-commands.js';
import { readStatus } from '../../engine/inspect.js';
import { sampleEvery } from '../../engine/sample-loop.js';
import { createStatusSampler } from '../../engine/status-sample.js';
import { describeHolder } from '../../host/lock.js';
import { sampleLine } from '../../report/sample-line.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { chooseFace } from '../terminal.js';
import { withHost } from '../with-host.js';

export type StatusOptions = GlobalOptions & { readonly watch?: boolean; readonly interval?: string; readonly count?: string };

/** `mcp-deploy status [--json] [--watch]`. */
export async function statusCommand(options: StatusOptions, output: Output): Promise<number> {
  if (options.watch) return watchStatus(options, output);
  const hosts = fleetHostsFor(options);
  if (hosts !== null) return onEveryHost(hosts, options, output, 'status', statusCommand);
  return withHost(options, output, async (context, transport) => {
    const status = await readStatus(context, transport);
    if (output.json) output.document(status);
    else output.line(statusLines(output, context.target, context.config.app, status).join('\n'));
    return 0;
  });
}

type StatusTarget = { readonly publicUrl: string; readonly nginx: { readonly locationFile: string } };

function statusLines(output: Output, target: StatusTarget, app: string, status: HostStatus): string[] {
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
  lines.push(servedByLine(output, target, status));
  for (const colour of status.colours) {
    const health = !colour.running
      ? paint.dim('stopped')
      : colour.healthy
        ? paint.green('healthy')
        : paint.red(`unhealthy: ${colour.problem ?? ''}`);
    lines.push(`${colour.colour.padEnd(5)} :${colour.port}  ${health}${sessionsText(status, colour)}`);
  }
  if (status.lock.held) {
    const stale = status.lock.stale ? ` — stale (${status.lock.staleReason}); break it with: mcp-deploy unlock --force` : '';
    lines.push(paint.yellow(`lock: held by ${describeHolder(status.lock)}${stale}`));
  } else lines.push('lock: free');
  return lines;
}

/** What answers through the public URL, by nginx's own word where the site lets it say. */
function servedByLine(output: Output, target: StatusTarget, status: HostStatus): string {
  const { paint } = output;
  const seen = status.servedBy;
  if (seen === null) return paint.red(`through ${target.publicUrl}: no answer`);
  const trafficColour = status.colours.find((colour) => colour.port === status.trafficPort)?.colour ?? null;
  if (seen.colour !== null) {
    const line = `through ${target.publicUrl}: ${seen.colour} answers (nginx's X-MCP-Deploy-Colour); sessions are pinned`;
    return seen.colour === trafficColour
      ? line
      : paint.yellow(`! ${line}, but the include routes new traffic to ${trafficColour ?? 'no colour'}`);
  }
  const who = seen.release !== null ? `release ${seen.release} answers` : 'an answer that names no colour or release';
  return paint.yellow(`through ${target.publicUrl}: ${who}; sessions are not pinned (no location includes ${target.nginx.locationFile})`);
}

/** A colour's sessions, from nginx's session log (only where the site pins them). */
function sessionsText(status: HostStatus, colour: HostStatus['colours'][number]): string {
  if (status.routing === null || status.servedBy?.colour === null) return '';
  if (colour.sessions === null) return colour.running ? '  · retired: nginx answers its sessions with 404' : '';
  if (!status.sessionLog.readable) return `  · sessions: ${status.sessionLog.path} cannot be read`;
  return `  · sessions: ${colour.sessions.active} active, ${colour.sessions.lastHour} in the last hour`;
}

/**
 * `status --watch`: in a terminal, the dashboard (ui/dashboard-view.tsx); otherwise (or with
 * --count) one line per sample, or with --json one JSON object per sample (NDJSON), with the same fields. Ctrl-C (or
 * --count) ends it.
 */
async function watchStatus(options: StatusOptions, output: Output): Promise<number> {
  const intervalMs = watchInterval(options.interval);
  const count = options.count === undefined ? undefined : Math.max(1, Number.parseInt(options.count, 10) || 1);
  if (count === undefined && chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app') {
    const { runApp } = await import('../app-bridge.js');
    return runApp('dashboard', { ...options, intervalMs }, output);
  }
  return withHost(options, output, async (context, transport) => {
    const sampler = createStatusSampler(context, transport);
    try {
      await sampleEvery(sampler, {
        intervalMs,
        ...(count === undefined ? {} : { count }),
        signal: context.signal,
        onSample: (sample) => (output.json ? output.record(sample) : output.line(sampleLine(sample, output.paint))),
      });
    } finally {
      await sampler.close();
    }
    return 0;
  });
}

/** Seconds between samples, at least 0.2. */
export function watchInterval(text: string | undefined): number {
  return Math.max(200, (Number(text ?? '2') || 2) * 1000);
}
