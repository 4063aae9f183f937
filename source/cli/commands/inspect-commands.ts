import { Chalk } from 'chalk';
import { readReleases, readStatus } from '../../engine/inspect.js';
import { formatAge } from '../../host/host-clock.js';
import { describeHolder, breakLock, readLock } from '../../host/lock.js';
import { hostLayout } from '../../host/layout.js';
import { appendAudit } from '../../host/audit.js';
import { formatBytes } from '../../report/format.js';
import { DeployError } from '../../errors.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext, type RunContext } from '../run-context.js';
import { chooseFace } from '../terminal.js';
import { runApp } from '../app-bridge.js';

async function withHost<T>(options: GlobalOptions, body: (context: RunContext, transport: Awaited<ReturnType<RunContext['connect']>>) => Promise<T>): Promise<T> {
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
      process.stdout.write(`${JSON.stringify({ target: context.target.name, releases: rows }, null, 2)}\n`);
      return 0;
    }
    const paint = new Chalk({ level: context.color ? 1 : 0 });
    if (rows.length === 0) context.out.write(`No releases on ${transport.label} yet.\n`);
    const now = Date.now() / 1000;
    for (const row of rows) {
      const marks = [row.active ? paint.green('active') : '', row.previous ? paint.cyan('previous') : '', row.failed ? paint.red('failed') : ''].filter(Boolean).join(',');
      const age = row.createdAt ? formatAge(now - Date.parse(row.createdAt) / 1000) : '?';
      const size = row.sizeBytes === null ? '?' : formatBytes(row.sizeBytes);
      context.out.write(
        `${row.active ? '●' : ' '} ${row.id.padEnd(28)} ${marks.padEnd(16)} ${age.padStart(6)} ${size.padStart(8)}  ${row.lastResult ?? '-'}  ${row.deployedBy ?? '-'}  ${row.tools ? row.tools.join(',') : ''}\n`,
      );
      if (row.failed) context.out.write(paint.dim(`      failed at ${row.failed.step}: ${row.failed.message}\n`));
    }
    if (malformedAuditLines > 0) context.out.write(paint.yellow(`! audit.log has ${malformedAuditLines} line(s) that could not be read; they were left as they are.\n`));
    return 0;
  });
}

/** `mcp-deploy status [--json]`. */
export async function statusCommand(options: GlobalOptions): Promise<number> {
  return withHost(options, async (context, transport) => {
    const status = await readStatus(context, transport);
    if (options.json) {
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return 0;
    }
    const paint = new Chalk({ level: context.color ? 1 : 0 });
    const write = (text: string) => context.out.write(`${text}\n`);
    const active = status.state?.active;
    write(paint.bold(`${context.config.app} on ${status.target} (${status.host})`));
    write(active ? `active: ${active.release} on ${active.colour} (port ${active.port})` : 'active: nothing deployed yet');
    if (status.state?.previous) write(`previous: ${status.state.previous}`);
    write(`nginx sends traffic to: ${status.trafficPort === null ? 'no upstream include yet' : `127.0.0.1:${status.trafficPort}`}`);
    if (active && status.trafficPort !== null && status.trafficPort !== active.port) {
      write(paint.yellow(`! nginx and state.json disagree: a run was cut off after the switch. The next deploy or rollback repairs it.`));
    }
    for (const colour of status.colours) {
      const health = !colour.running ? paint.dim('stopped') : colour.healthy ? paint.green('healthy') : paint.red(`unhealthy: ${colour.problem ?? ''}`);
      write(`${colour.colour.padEnd(5)} :${colour.port}  ${health}`);
    }
    if (status.lock.held) {
      write(paint.yellow(`lock: held by ${describeHolder(status.lock)}${status.lock.stale ? ` — stale (${status.lock.staleReason}); break it with: mcp-deploy unlock --force` : ''}`));
    } else write('lock: free');
    return 0;
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
      at: new Date().toISOString(),
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
