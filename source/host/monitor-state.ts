import { z } from 'zod';
import type { Transport } from '../remote/transport.js';
import type { HostLayout } from './layout.js';

/**
 * monitor.json: what the last `mcp-deploy monitor` run concluded, so the next run (from cron, a
 * systemd timer or a scheduled CI job, on any machine) alerts only when the verdict changes, and
 * reads the access log on from where the last one stopped. Written through a temporary file and a
 * rename. A file that cannot be read is treated as absent: the worst that costs is one repeated
 * alert, never a missed one.
 */

const window = z.object({
  requests: z.number().int().min(0),
  errors: z.number().int().min(0),
  latency: z.object({ counts: z.array(z.number().int().min(0)).max(200) }),
});

export const monitorStateSchema = z.object({
  version: z.literal(1),
  /** The verdict of the last run that could judge. */
  state: z.enum(['ok', 'failing']),
  /** When that verdict began (host time, ISO 8601). */
  since: z.string(),
  /** When the last run ended (host time). */
  checkedAt: z.string(),
  /** The release that served at the last run, and what was wrong with it then. */
  release: z.string().nullable(),
  problems: z.array(z.string()),
  /** Where the access log was read up to, and its inode (another one means it was rotated). */
  accessCursor: z.object({ offset: z.number().int(), inode: z.string() }).nullable(),
  /** The serving release's traffic since it took over, and the release before it's. */
  windows: z.object({ since: window, prior: window, release: z.string().nullable() }).nullable(),
  /**
   * The serving process at the last run: another one for the same release on the same colour is a
   * restart (`mcp-deploy restart` moves the release to the other colour: no restart of the server).
   */
  process: z
    .object({ pid: z.number().int(), startTicks: z.number(), release: z.string().nullable(), colour: z.enum(['blue', 'green']).optional() })
    .nullable(),
});

export type MonitorState = z.output<typeof monitorStateSchema>;

export async function readMonitorState(transport: Transport, layout: HostLayout): Promise<MonitorState | null> {
  const bytes = await transport.readFile(layout.monitorState);
  if (bytes === null) return null;
  try {
    const parsed = monitorStateSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function writeMonitorState(transport: Transport, layout: HostLayout, state: MonitorState): Promise<void> {
  await transport.writeFileAtomic(layout.monitorState, `${JSON.stringify(monitorStateSchema.parse(state))}\n`, 0o644);
}

/** A monitor lock older than this belongs to a run that died: the next run takes it over. */
export const monitorLockStaleSeconds = 600;

/**
 * Takes the monitor lock (mkdir: atomic), or says it is busy. One run at a time: two runs that
 * both saw "ok" and then "failing" would both alert. A lock left by a run that died is taken
 * over once it is `monitorLockStaleSeconds` old.
 */
export async function takeMonitorLock(transport: Transport, layout: HostLayout): Promise<'taken' | 'busy'> {
  const result = await transport.run(
    {
      script: [
        'if mkdir -- "$d" 2>/dev/null; then echo taken; exit 0; fi',
        'm=$(stat -c %Y -- "$d" 2>/dev/null || echo 0)',
        'if [ $(( $(date +%s) - m )) -gt "$stale" ]; then touch -- "$d" && echo taken; else echo busy; fi',
      ].join('\n'),
    },
    { env: { d: layout.monitorLock, stale: String(monitorLockStaleSeconds) }, timeoutMs: 15_000 },
  );
  return result.stdout.trim() === 'taken' ? 'taken' : 'busy';
}

export async function releaseMonitorLock(transport: Transport, layout: HostLayout): Promise<void> {
  await transport.run(['rm', '-rf', '--', layout.monitorLock], { timeoutMs: 15_000 }).catch(() => undefined);
}
