import { Chalk } from 'chalk';
import { readReleases, readStatus, type HostStatus } from '../../engine/inspect.js';
import { colourMetrics, cpuPercent, nginxErrorRate, type ProcessSample } from '../../engine/metrics.js';
import { createSupervisor } from '../../engine/supervisor/create-supervisor.js';
import { hostIso } from '../../engine/session.js';
import { formatAge } from '../../run/format.js';
import { describeHolder, breakLock, readLock } from '../../host/lock.js';
import { hostLayout } from '../../host/layout.js';
import { appendAudit } from '../../host/audit.js';
import { formatBytes } from '../../run/format.js';
import { DeployError } from '../../errors.js';
import { describeSummary, summarizeContract } from '../../contract/contract.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext, type RunContext } from '../run-context.js';
import { chooseFace } from '../terminal.js';
import { runApp } from '../app-bridge.js';

async function withHost<T>(
  options: GlobalOptions,
  body: (context: RunContext, transport: Awaited<ReturnType<RunContext['connect']>>) => Promise<T>,
): Promise<T> {
  const context = createRunContext({ ...options, yes: true }, { plain: true });
  const transport = await context.connect();
  try {
    return await body(context, transport);
  } finally {
    await transport.close();
    context.dispose();
  }
}

/** `mcp-deploy releases [--json]`. */
export async function releasesCommand(options: GlobalOptions): Promise<number> {
  if (chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app') return runApp('releases', options);
  return withHost(options, async (context, transport) => {
    const { rows, malformedAuditLines } = await readReleases(context, transport);
    if (options.json) {
      // Each release's contract as its summary (counts, era): the whole of it is one `mcp-deploy diff` away.
      const listed = rows.map((row) => ({ ...row, contract: row.contract === null ? null : summarizeContract(row.contract) }));
      process.stdout.write(`${JSON.stringify({ target: context.target.name, releases: listed }, null, 2)}\n`);
      return 0;
    }
    const paint = new Chalk({ level: context.color ? 1 : 0 });
    if (rows.length === 0) context.out.write(`No releases on ${transport.label} yet.\n`);
    const now = Date.now() / 1000;
    for (const row of rows) {
      const marks = [
        row.active ? paint.green('active') : '',
        row.previous ? paint.cyan('previous') : '',
        row.failed ? paint.red('failed') : '',
      ]
        .filter(Boolean)
        .join(',');
      const age = row.createdAt ? formatAge(now - Date.parse(row.createdAt) / 1000) : '?';
      const size = row.sizeBytes === null ? '?' : formatBytes(row.sizeBytes);
      context.out.write(
        `${row.active ? '●' : ' '} ${row.id.padEnd(28)} ${marks.padEnd(16)} ${age.padStart(6)} ${size.padStart(8)}  ${row.lastResult ?? '-'}  ${row.deployedBy ?? '-'}  ${row.contract ? describeSummary(summarizeContract(row.contract)) : row.tools ? row.tools.join(',') : ''}\n`,
      );
      if (row.failed) context.out.write(paint.dim(`      failed at ${row.failed.step}: ${row.failed.message}\n`));
    }
    if (malformedAuditLines > 0)
      context.out.write(
        paint.yellow(`! audit.log has ${malformedAuditLines} line(s) that could not be read; they were left as they are.\n`),
      );
    return 0;
  });
}

/** `mcp-deploy status [--json] [--watch]`. */
export async function statusCommand(options: GlobalOptions & StatusWatchOptions): Promise<number> {
  if (options.watch) return watchStatus(options);
  return withHost(options, async (context, transport) => {
    const status = await readStatus(context, transport);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return 0;
    }
    context.out.write(`${statusLines(context, status).join('\n')}\n`);
    return 0;
  });
}

function statusLines(context: RunContext, status: HostStatus, extra: ReadonlyMap<string, string> = new Map()): string[] {
  const paint = new Chalk({ level: context.color ? 1 : 0 });
  const lines: string[] = [];
  const write = (text: string) => lines.push(text);
  const active = status.state?.active;
  write(paint.bold(`${context.config.app} on ${status.target} (${status.host})`));
  write(active ? `active: ${active.release} on ${active.colour} (port ${active.port})` : 'active: nothing deployed yet');
  if (status.state?.previous) write(`previous: ${status.state.previous}`);
  write(`nginx sends traffic to: ${status.trafficPort === null ? 'no upstream include yet' : `127.0.0.1:${status.trafficPort}`}`);
  if (active && status.trafficPort !== null && status.trafficPort !== active.port) {
    write(paint.yellow(`! nginx and state.json disagree: a run was cut off after the switch. The next deploy or rollback repairs it.`));
  }
  for (const colour of status.colours) {
    const health = !colour.running
      ? paint.dim('stopped')
      : colour.healthy
        ? paint.green('healthy')
        : paint.red(`unhealthy: ${colour.problem ?? ''}`);
    write(`${colour.colour.padEnd(5)} :${colour.port}  ${health}${extra.get(colour.colour) ?? ''}`);
  }
  if (status.lock.held) {
    write(
      paint.yellow(
        `lock: held by ${describeHolder(status.lock)}${status.lock.stale ? ` — stale (${status.lock.staleReason}); break it with: mcp-deploy unlock --force` : ''}`,
      ),
    );
  } else write('lock: free');
  return lines;
}

export type StatusWatchOptions = { readonly watch?: boolean; readonly interval?: string; readonly count?: string };

/**
 * `status --watch`: the same picture refreshed every few seconds, with each running colour's MCP
 * handshake latency, CPU and memory, and nginx's 5xx share for the serving colour. Redraws in
 * place on a terminal, appends blocks otherwise; Ctrl-C (or --count) ends it.
 */
async function watchStatus(options: GlobalOptions & StatusWatchOptions): Promise<number> {
  const intervalMs = Math.max(200, (Number(options.interval ?? '2') || 2) * 1000);
  const count = options.count === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Number.parseInt(options.count, 10) || 1);
  return withHost(options, async (context, transport) => {
    const { config, target } = context;
    const supervisor = createSupervisor(target, transport, hostLayout(target.path), config.app);
    const previous = new Map<string, ProcessSample | null>();
    const redraw = context.out.isTTY === true;
    for (let round = 0; round < count && !context.signal.aborted; round += 1) {
      const status = await readStatus(context, transport);
      const extra = new Map<string, string>();
      for (const colour of status.colours) {
        if (!colour.running) continue;
        const metrics = await colourMetrics(transport, config, target, supervisor, colour.colour);
        const sample = metrics.process;
        const cpu = cpuPercent(previous.get(colour.colour), sample);
        previous.set(colour.colour, sample);
        const parts = [
          metrics.mcpLatencyMs === null ? `mcp: ${metrics.mcpProblem ?? 'no answer'}` : `mcp ${Math.round(metrics.mcpLatencyMs)} ms`,
          ...(sample ? [`cpu ${cpu === null ? '…' : `${cpu.toFixed(1)}%`}`, `mem ${formatBytes(sample.rssKiB * 1024)}`] : []),
        ];
        if (status.trafficPort === colour.port) {
          const rate = await nginxErrorRate(transport, config.watch?.accessLog, colour.port);
          if (rate) parts.push(`nginx 5xx ${rate.errors}/${rate.requests}`);
        }
        extra.set(colour.colour, `  ${parts.join(' · ')}`);
      }
      const block = statusLines(context, status, extra).join('\n');
      context.out.write(redraw ? `\u001b[H\u001b[2J${block}\n(every ${intervalMs / 1000} s · Ctrl-C to stop)\n` : `${block}\n\n`);
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

/** `mcp-deploy unlock [--force]`: shows the lock, and removes it when it is stale or --force is given. */
export async function unlockCommand(options: GlobalOptions): Promise<number> {
  return withHost(options, async (context, transport) => {
    const layout = hostLayout(context.target.path);
    const status = await readLock(transport, layout, { staleMinutes: context.target.lockStaleMinutes, localHostName: context.localHost });
    if (!status.held) {
      context.out.write('The lock is free; nothing to do.\n');
      return 0;
    }
    context.out.write(`Lock held by ${describeHolder(status)}${status.stale ? ` (stale: ${status.staleReason})` : ''}.\n`);
    if (!options.force) {
      throw new DeployError('locked', 'Not removed: pass --force to remove it.', {
        hint: status.stale ? 'It looks stale, so --force is safe.' : 'Make sure no deploy is still running first.',
      });
    }
    await breakLock(transport, layout);
    await appendAudit(transport, layout, {
      at: await hostIso(transport),
      operator: context.operator,
      localHost: context.localHost,
      target: context.target.name,
      operation: 'unlock',
      from: status.info?.release ?? null,
      to: null,
      result: 'ok',
      steps: [],
    });
    context.out.write('Lock removed.\n');
    return 0;
  });
}
