import { randomBytes } from 'node:crypto';
import { probeHttp } from '../health/http-probe.js';
import { probeMcp } from '../health/mcp-probe.js';
import { hostLayout } from '../host/layout.js';
import { parseHeldReport } from '../host/lock.js';
import { hostStateSchema, type HostState } from '../host/state.js';
import type { Transport, Tunnel } from '../remote/transport.js';
import { addToWindow, emptyWindow, type PortTally, quantile, tallyByPort, type TrafficWindow } from './access-log.js';
import { colours, otherColour, portOf, type Colour } from './colours.js';
import type { EngineContext } from './context.js';
import { compareWindows } from './degradation.js';
import { cpuPercent, percentiles, Ring, type TreeReading } from './metrics.js';
import { upstreamPort } from './nginx.js';
import type { ColourSample, NginxFigures, SamplerMemory, StatusSample } from './sample-types.js';
import { auditMarks, type AuditMark } from './release-marks.js';
import { parseSampleOutput, sampleScript } from './sample-script.js';
import { SessionLogReader, sessionsByColour } from './session-log.js';
import { createSupervisor } from './supervisor/create-supervisor.js';

export type { ColourSample, NginxFigures, SamplerMemory, StatusSample } from './sample-types.js';

export type StatusSampler = {
  sample(): Promise<StatusSample>;
  /** Where it stopped in the access log, and its traffic windows: what `monitor` keeps on the host. */
  memory(): SamplerMemory;
  /** Closes the sampler's tunnels (not the transport, which the caller owns). */
  close(): Promise<void>;
};

export type SamplerOptions = {
  /** How many probe latencies the p50/p99 are taken over. */
  readonly probeWindow?: number;
  readonly firstLookBytes?: number;
  /** The most of the access log one tick reads; more appended since the last tick is skipped. */
  readonly maxBytesPerTick?: number;
  /** Resume reading the access log here (monitor keeps the offset on the host between runs). */
  readonly accessCursor?: { readonly offset: number; readonly inode: string };
  /** Each tick's access-log lines, by the port that answered (monitor judges its whole window from them). */
  readonly onTally?: (port: number, tally: PortTally) => void;
  /** Traffic windows kept on the host by `monitor`, to continue. */
  readonly windows?: { readonly since: TrafficWindow; readonly prior: TrafficWindow; readonly release: string | null };
};

const auditLines = 6;

/**
 * Samples the host again and again over one connection: per tick one script (sample-script.ts),
 * beside it the new lines of nginx's session log (a channel of its own, in parallel: no round trip
 * added), and, per running colour, its HTTP checks and one MCP probe through a tunnel opened once.
 * Everything it remembers is bounded: the last probes, the last audit lines, two traffic windows.
 */
export function createStatusSampler(context: EngineContext, transport: Transport, options: SamplerOptions = {}): StatusSampler {
  const { config, target } = context;
  const layout = hostLayout(target.path);
  const supervisor = createSupervisor(target, transport, layout, config.app);
  const boundary = `--mcpd-${randomBytes(9).toString('hex')}--`;
  const pidScripts = { blue: supervisor.mainPidScript('blue'), green: supervisor.mainPidScript('green') };
  const accessFile = config.watch?.accessLog;
  const tunnels = new Map<number, Tunnel>();
  const probes = { blue: new Ring<number | null>(options.probeWindow ?? 30), green: new Ring<number | null>(options.probeWindow ?? 30) };
  const trees = new Map<Colour, TreeReading>();
  const identities = new Map<Colour, { pid: number; startTicks: number; release: string | null }>();
  let auditSize = -1;
  let audit: AuditMark[] = [];
  let cursor = { offset: options.accessCursor?.offset ?? -1, inode: options.accessCursor?.inode ?? '' };
  // The serving release's traffic since it took over, and what the release before it served.
  let since = options.windows?.since ?? emptyWindow();
  let prior = options.windows?.prior ?? emptyWindow();
  let windowRelease = options.windows?.release ?? null;
  let previousAt: number | null = null;
  let seq = 0;
  const sessionLog = new SessionLogReader(transport, target.nginx.sessionLog);

  const tunnelTo = async (port: number): Promise<Tunnel> => {
    const open = tunnels.get(port);
    if (open) return open;
    const tunnel = await transport.openTunnel(port);
    tunnels.set(port, tunnel);
    return tunnel;
  };

  const check = async (colour: Colour): Promise<{ ms: number | null; problem?: string }> => {
    try {
      const base = `http://127.0.0.1:${(await tunnelTo(portOf(target, colour))).localPort}`;
      await probeHttp(base, config.health.http, { timeoutMs: 5_000, signal: context.signal });
      const probe = await probeMcp(base, config.health.mcp ?? { path: '/mcp', expectTools: [], calls: [] }, {
        timeoutMs: 5_000,
        signal: context.signal,
      });
      return { ms: probe.ms };
    } catch (error) {
      return { ms: null, problem: error instanceof Error ? error.message : String(error) };
    }
  };

  return {
    async sample() {
      seq += 1;
      const request = sampleScript({
        boundary,
        layout,
        upstreamFile: target.nginx.upstreamFile,
        pidScripts,
        auditSize,
        auditLines,
        accessLog:
          accessFile === undefined
            ? null
            : {
                file: accessFile,
                offset: cursor.offset,
                inode: cursor.inode,
                firstLookBytes: 256 * 1024,
                maxBytes: options.maxBytesPerTick ?? 4 * 1024 * 1024,
              },
      });
      const [result, sessionClock] = await Promise.all([
        transport.run({ script: request.script }, { env: request.env, timeoutMs: 20_000, signal: context.signal }),
        sessionLog.read().catch(() => null),
      ]);
      // Sessions with a request within drain.sessionIdleSeconds, as the drain counts them; null
      // where the site does not log them (it does not pin sessions).
      const sessionCounts = sessionClock?.readable
        ? sessionsByColour(sessionLog.book, sessionClock.now - config.drain.sessionIdleSeconds)
        : null;
      if (sessionClock?.readable) sessionLog.forget(sessionClock.now - config.drain.sessionIdleSeconds);
      const parts = parseSampleOutput(result.stdout, boundary);
      const { state, problem: stateProblem } = parseState(parts.state);
      const trafficPort = upstreamPort(parts.upstream, target.nginx.upstream);
      const lock = parseHeldReport(parts.lock, { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost });
      if (parts.audit.size !== auditSize) {
        audit = auditMarks(parts.audit.lines);
        auditSize = parts.audit.size;
      }
      const active = state?.active ?? null;

      // The access log: what each port answered since the last tick.
      let tallies = new Map<number, PortTally>();
      let accessLog: StatusSample['accessLog'] = null;
      if (accessFile !== undefined) {
        const read = parts.access;
        if (read?.readable) {
          let body = read.text;
          // A first look, or a read after a skip, starts inside a line: drop that part.
          if ((cursor.offset < 0 || read.skipped > 0) && read.from > 0) body = body.slice(body.indexOf('\n') + 1);
          // A line nginx is still writing waits for the next tick.
          const end = body.lastIndexOf('\n') + 1;
          const held = Buffer.byteLength(body.slice(end));
          tallies = tallyByPort(body.slice(0, end));
          for (const [port, tally] of tallies) options.onTally?.(port, tally);
          cursor = { offset: read.size - held, inode: read.inode };
          accessLog = { file: accessFile, readable: true, bytesRead: read.size - read.from, skipped: read.skipped };
        } else accessLog = { file: accessFile, readable: false, bytesRead: 0, skipped: 0 };
      }
      // A new release took over: what it serves from now on is "since", what served before is "prior".
      if (active !== null && active.release !== windowRelease) {
        if (windowRelease !== null) prior = since;
        else prior = windowFrom(tallies.get(portOf(target, otherColour(active.colour))));
        since = emptyWindow();
        windowRelease = active.release;
      }
      if (active !== null) addToWindow(since, tallies.get(active.port) ?? { requests: 0, errors: 0, times: [], okTimes: [] });

      const running = colours.filter((colour) => parts.pids[colour] !== null);
      const checks = new Map(await Promise.all(running.map(async (colour) => [colour, await check(colour)] as const)));
      const elapsed = previousAt === null ? null : parts.now - previousAt;
      previousAt = parts.now;

      const colourSamples = colours.map((colour): ColourSample => {
        const port = portOf(target, colour);
        const pid = parts.pids[colour];
        const release = active?.colour === colour ? active.release : null;
        const tree = pid === null ? undefined : parts.trees.get(pid);
        const reading: TreeReading | undefined = tree && { ...tree, at: parts.now, clockTicks: parts.clockTicks };
        const cpu = cpuPercent(trees.get(colour), reading);
        if (reading) trees.set(colour, reading);
        else trees.delete(colour);
        const before = identities.get(colour);
        const restarted =
          tree !== undefined &&
          before !== undefined &&
          before.release === release &&
          (before.pid !== tree.pid || before.startTicks !== tree.startTicks);
        if (tree) identities.set(colour, { pid: tree.pid, startTicks: tree.startTicks, release });
        const probe = checks.get(colour);
        if (pid !== null) probes[colour].push(probe?.ms ?? null);
        const tally = tallies.get(port);
        return {
          colour,
          port,
          running: pid !== null,
          healthy: pid === null ? null : probe?.problem === undefined,
          ...(probe?.problem === undefined ? {} : { problem: probe.problem }),
          serving: trafficPort === port,
          release,
          pid,
          startTicks: tree?.startTicks ?? null,
          restarted,
          mcp: { ms: probe?.ms ?? null, ...(pid === null ? { p50Ms: null, p99Ms: null } : percentiles(probes[colour].values())) },
          cpuPercent: cpu,
          rssBytes: tree ? tree.rssPages * parts.pageSize : null,
          processes: tree ? tree.processes : null,
          nginx: accessLog?.readable ? nginxFigures(tally, elapsed) : null,
          sessions: pid === null || sessionCounts === null ? null : sessionCounts[colour],
        };
      });
      return {
        at: new Date(parts.now * 1000).toISOString(),
        t: parts.now,
        seq,
        target: target.name,
        host: transport.label,
        active,
        previous: state?.previous ?? null,
        trafficPort,
        ...(stateProblem === undefined ? {} : { stateProblem }),
        lock,
        colours: colourSamples,
        audit,
        accessLog,
        comparison:
          accessLog === null || active === null
            ? null
            : compareWindows(since, prior, {
                release: active.release,
                before: state?.previous ?? null,
                maxSlowdown: config.monitor.maxSlowdown,
                minRequests: config.monitor.minRequests,
              }),
      };
    },
    memory: () => ({ accessCursor: { ...cursor }, windows: { since, prior, release: windowRelease } }),
    async close() {
      await Promise.all([...tunnels.values()].map((tunnel) => tunnel.close().catch(() => {})));
      tunnels.clear();
    },
  };
}

function windowFrom(tally: PortTally | undefined): TrafficWindow {
  const window = emptyWindow();
  if (tally) addToWindow(window, tally);
  return window;
}

function nginxFigures(tally: PortTally | undefined, elapsed: number | null): NginxFigures {
  const requests = tally?.requests ?? 0;
  const errors = tally?.errors ?? 0;
  const times = tally?.times ?? [];
  const p50 = quantile(times, 0.5);
  const p99 = quantile(times, 0.99);
  return {
    requests,
    perSecond: elapsed === null || elapsed <= 0 ? null : requests / elapsed,
    errors,
    errorRate: requests === 0 ? null : errors / requests,
    p50Ms: p50 === null ? null : Math.round(p50),
    p99Ms: p99 === null ? null : Math.round(p99),
  };
}

function parseState(text: string): { state: HostState | null; problem?: string } {
  if (text.trim() === '') return { state: null };
  try {
    const parsed = hostStateSchema.safeParse(JSON.parse(text));
    if (parsed.success) return { state: parsed.data };
    return { state: null, problem: `state.json is not valid: ${parsed.error.issues[0]?.message ?? 'unknown'}` };
  } catch {
    return { state: null, problem: 'state.json is not JSON' };
  }
}
