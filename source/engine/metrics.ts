import type { Config, Target } from '../config/load.js';
import { probeMcp } from '../health/mcp-probe.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { portOf, type Colour } from './colours.js';
import type { Supervisor } from './supervisor/supervisor.js';
import { summarize } from './watch.js';

/**
 * What `status --watch` shows besides health: the MCP handshake's latency, the server's CPU time
 * and memory (from /proc on the host), and nginx's 5xx rate for the colour from its access log.
 */
export type ProcessSample = { readonly pid: number; readonly cpuSeconds: number; readonly rssKiB: number; readonly at: number };

export type ColourMetrics = {
  readonly colour: Colour;
  readonly mcpLatencyMs: number | null;
  readonly mcpProblem?: string;
  readonly process: ProcessSample | null;
};

/** One read of /proc/<pid>/stat and /proc/<pid>/status on the host. */
export async function sampleProcess(transport: Transport, pid: number): Promise<ProcessSample | null> {
  const text = script(
    op('ticks=$(getconf CLK_TCK 2>/dev/null || echo 100); stat=$(cat'),
    arg(`/proc/${pid}/stat`),
    op('2>/dev/null) || exit 1; rss=$(sed -n "s/^VmRSS:[[:space:]]*\\([0-9]*\\).*/\\1/p"'),
    arg(`/proc/${pid}/status`),
    op(');  echo "$ticks"; echo "${stat##*) }"; echo "${rss:-0}"'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 10_000 });
  if (result.code !== 0) return null;
  const [ticksLine, statLine, rssLine] = result.stdout.trim().split('\n');
  const fields = (statLine ?? '').split(' ');
  // After "pid (comm) ", field 3 (state) is index 0: utime and stime are fields 14 and 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const ticks = Number(ticksLine) || 100;
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { pid, cpuSeconds: (utime + stime) / ticks, rssKiB: Number(rssLine) || 0, at: Date.now() };
}

/** CPU use between two samples of the same process, in percent of one core. */
export function cpuPercent(before: ProcessSample | null | undefined, after: ProcessSample | null): number | null {
  if (!before || !after || before.pid !== after.pid || after.at <= before.at) return null;
  return Math.max(0, ((after.cpuSeconds - before.cpuSeconds) / ((after.at - before.at) / 1000)) * 100);
}

export async function colourMetrics(
  transport: Transport,
  config: Config,
  target: Target,
  supervisor: Supervisor,
  colour: Colour,
): Promise<ColourMetrics> {
  const port = portOf(target, colour);
  const pid = (await supervisor.mainPid?.(colour)) ?? null;
  const process = pid === null ? null : await sampleProcess(transport, pid);
  const tunnel = await transport.openTunnel(port);
  try {
    const probe = await probeMcp(
      `http://127.0.0.1:${tunnel.localPort}`,
      config.health.mcp ?? { path: '/mcp', expectTools: [], calls: [] },
      { timeoutMs: 5_000 },
    );
    return { colour, mcpLatencyMs: probe.ms, process };
  } catch (error) {
    return { colour, mcpLatencyMs: null, mcpProblem: error instanceof Error ? error.message : String(error), process };
  } finally {
    await tunnel.close();
  }
}

/** 5xx share of the last requests nginx logged for `port` (the tail of the access log), or null without a log. */
export async function nginxErrorRate(
  transport: Transport,
  accessLog: string | undefined,
  port: number,
): Promise<{ requests: number; errors: number } | null> {
  if (accessLog === undefined) return null;
  const result = await transport.run(['tail', '-n', '2000', accessLog], { timeoutMs: 10_000 });
  if (result.code !== 0) return null;
  const sample = summarize(result.stdout, port);
  return { requests: sample.requests, errors: sample.errors };
}
