import { deploy } from '../../source/engine/deploy.js';
import { rollback } from '../../source/engine/rollback.js';
import { holdSession, summarizeSessionCalls, type SessionClient, type SessionClientReport } from './session-client.js';
import { isResetBeforeResponse, onNewConnection, percentile, startTraffic, type TrafficReport } from './traffic.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectSsh } from '../../source/remote/connect.js';
import { startLatencyRelay, type LatencyRelay } from '../harness/latency-relay.js';
import type { World } from './world.js';

/**
 * Zero downtime, measured: steady MCP tools/list and GET /health traffic through nginx, plus
 * long-lived tools/call requests (the example server holds each for `slowMs`) that are in flight
 * while the old colour drains, during `cycles` deploys each followed by a rollback. Beside them,
 * MCP sessions held as clients hold them: a cohort that each keep a session for less than
 * drain.sessionMaxSeconds and then end it (they should never see a 404), and one client that keeps
 * its session through everything (one 404 each time its colour is retired). Shared by the short
 * CI test and the long benchmark.
 */
export type ZeroDowntimeReport = {
  readonly cycles: number;
  readonly cutovers: number;
  readonly traffic: TrafficReport;
  readonly slow: { sent: number; failed: number; retried: number; failures: string[] };
  readonly phases: Record<'before' | 'during' | 'after', { count: number; p50: number; p99: number }>;
  readonly sessions: {
    /** Sessions that each lasted less than the bound, then ended: their calls, failures and 404s (0 expected). */
    readonly withinBound: { sessions: number; calls: number; failed: number; notFound: number; failures: string[] };
    /** One session held through every cutover: its 404s are its colour's retirements. */
    readonly heldThrough: { sessions: number; calls: number; failed: number; notFound: number; failures: string[] };
    readonly bound: { idleSeconds: number; maxSeconds: number };
  };
  /** With a far host: bytes through the SSH and the public URL's relays. */
  readonly relayed?: { readonly ssh: number; readonly web: number };
};

const sessionBound = { sessionIdleSeconds: 2, sessionMaxSeconds: 4 };

export async function measureZeroDowntime(
  world: World,
  options: {
    cycles: number;
    slowMs: number;
    warmupMs?: number;
    sessionClients?: number;
    /**
     * A host this far away (round-trip ms): SSH and every client's traffic (the public URL) go
     * through latency relays, so the deploy's own checks and the clients see the same distance.
     */
    rttMs?: number;
  },
): Promise<ZeroDowntimeReport> {
  const far = options.rttMs === undefined ? null : await farAway(world, options.rttMs);
  try {
    const report = await measure(world, options, far);
    return far === null ? report : { ...report, relayed: far.counters() };
  } finally {
    await far?.close();
  }
}

type FarAway = {
  readonly publicUrl: string;
  readonly target: Record<string, unknown>;
  readonly connect: World['connect'];
  /** Bytes that went through each relay: proof the run really went the long way. */
  counters(): { readonly ssh: number; readonly web: number };
  close(): Promise<void>;
};

/** Relays in front of the world's sshd and nginx, and what a config and a context need to use them. */
async function farAway(world: World, rttMs: number): Promise<FarAway> {
  const sshd = world.sshd;
  if (!sshd) throw new Error('a far host needs an SSH world');
  const relays: LatencyRelay[] = [];
  try {
    relays.push(await startLatencyRelay(sshd.port, { rttMs }), await startLatencyRelay(world.nginx.port, { rttMs }));
  } catch (error) {
    await Promise.all(relays.map((relay) => relay.close()));
    throw error;
  }
  const [ssh, web] = relays as [LatencyRelay, LatencyRelay];
  const knownHosts = join(world.project, '..', 'far_known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${ssh.port} ${sshd.hostPublicKey}\n`);
  const publicUrl = `http://127.0.0.1:${web.port}`;
  return {
    publicUrl,
    target: { port: ssh.port, knownHosts, publicUrl },
    connect: () =>
      connectSsh({ host: sshd.host, port: ssh.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: knownHosts }),
    counters: () => {
      const [sshed, webbed] = [ssh.counters(), web.counters()];
      return { ssh: sshed.up + sshed.down, web: webbed.up + webbed.down };
    },
    close: async () => {
      await Promise.all(relays.map((relay) => relay.close()));
    },
  };
}

async function measure(world: World, options: Parameters<typeof measureZeroDowntime>[1], far: FarAway | null): Promise<ZeroDowntimeReport> {
  const config = world.config(
    {
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', env: { EXAMPLE_SLOW_MS: String(options.slowMs) } },
      drainSeconds: 0.2,
      drain: sessionBound,
    },
    far?.target ?? {},
  );
  const context = () => {
    const made = world.context({ config }).context;
    return far === null ? made : { ...made, connect: far.connect };
  };
  const publicUrl = far?.publicUrl ?? world.publicUrl;
  const first = await deploy(context(), { skipValidate: true });
  if (!first.ok) throw new Error(`setting up: ${first.error?.message}`);
  const traffic = startTraffic(publicUrl, { clients: 3, maxRequests: 200_000, maxMs: 30 * 60_000 });
  const slow = { sent: 0, failed: 0, retried: 0, failures: [] as string[] };
  let stopSlow = false;
  const slowLoop = (async () => {
    // Sequential long requests from two clients: at any moment one is probably mid-flight.
    const client = async () => {
      while (!stopSlow && slow.sent < 10_000) {
        const call = (send: typeof globalThis.fetch) =>
          send(`${publicUrl}/mcp`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json, text/event-stream',
              'mcp-protocol-version': '2025-06-18',
            },
            body: JSON.stringify({ jsonrpc: '2.0', id: slow.sent, method: 'tools/call', params: { name: 'list_concepts', arguments: {} } }),
            signal: AbortSignal.timeout(30_000),
          });
        // nginx closes idle kept-alive connections when it reloads; a request written at that
        // instant never reached a server and is sent again once, as traffic.ts does (counted).
        const status = (send: typeof globalThis.fetch) =>
          call(send).then(async (response) => {
            await response.arrayBuffer();
            return response.status;
          });
        const answered = await status(fetch)
          .catch((error: unknown) => {
            if (!isResetBeforeResponse(error)) throw error;
            slow.retried += 1;
            return onNewConnection(status);
          })
          .catch((error: unknown) => error as Error);
        slow.sent += 1;
        if (answered instanceof Error || answered !== 200) {
          slow.failed += 1;
          slow.failures.push(
            answered instanceof Error
              ? `${answered.name}: ${answered.message} ${String((answered as { cause?: unknown }).cause ?? '')}`
              : `HTTP ${answered}`,
          );
        }
      }
    };
    await Promise.all([client(), client()]);
  })();

  // Sessions: the held one, and a cohort whose sessions each end well within the bound.
  const mcpUrl = `${publicUrl}/mcp`;
  const held = await holdSession(mcpUrl, { intervalMs: 50, maxMs: 30 * 60_000 });
  const shortReports: SessionClientReport[] = [];
  let stopShort = false;
  const lifetimeMs = (sessionBound.sessionMaxSeconds * 1000) / 2;
  const cohort = (async () => {
    const one = async () => {
      while (!stopShort && shortReports.length < 5_000) {
        const client: SessionClient = await holdSession(mcpUrl, { intervalMs: 50, maxMs: lifetimeMs });
        await client.finished;
        shortReports.push(await client.stop({ end: true }));
      }
    };
    await Promise.all(Array.from({ length: options.sessionClients ?? 3 }, one));
  })();

  const windows: { from: number; to: number }[] = [];
  const before = Date.now();
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs ?? 1_000));
  let cutovers = 0;
  try {
    for (let cycle = 0; cycle < options.cycles; cycle += 1) {
      world.editServer((text) => `${text}\n# cycle ${cycle}\n`);
      const from = Date.now();
      const deployed = await deploy(context(), { skipValidate: true });
      if (!deployed.ok) throw new Error(`deploy ${cycle}: ${deployed.error?.step}: ${deployed.error?.message}`);
      const back = await rollback(context());
      if (!back.ok) throw new Error(`rollback ${cycle}: ${back.error?.step}: ${back.error?.message}`);
      windows.push({ from, to: Date.now() });
      cutovers += 2;
    }
    await new Promise((resolve) => setTimeout(resolve, options.warmupMs ?? 1_000));
  } finally {
    stopSlow = true;
    stopShort = true;
    await traffic.stop();
    await slowLoop;
    await cohort;
  }
  const heldReport = await held.stop({ end: true });
  const tally = (reports: readonly SessionClientReport[]) => {
    const counts = reports.map(summarizeSessionCalls);
    return {
      sessions: reports.reduce((sum, report) => sum + report.sessions.length, 0),
      calls: counts.reduce((sum, count) => sum + count.ok + count.notFound + count.failed, 0),
      failed: counts.reduce((sum, count) => sum + count.failed, 0),
      notFound: counts.reduce((sum, count) => sum + count.notFound, 0),
      failures: reports.flatMap((report) => report.failures),
    };
  };
  const lastCutover = windows.at(-1)?.to ?? before;
  const firstCutover = windows[0]?.from ?? Date.now();
  const phase = (keep: (at: number) => boolean) => {
    const values = traffic.report.samples.filter((sample) => keep(sample.at)).map((sample) => sample.ms);
    return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
  };
  return {
    cycles: options.cycles,
    cutovers,
    traffic: traffic.report,
    slow,
    phases: {
      before: phase((at) => at < firstCutover),
      during: phase((at) => windows.some((window) => at >= window.from && at <= window.to)),
      after: phase((at) => at > lastCutover),
    },
    sessions: {
      withinBound: tally(shortReports),
      heldThrough: tally([heldReport]),
      bound: { idleSeconds: sessionBound.sessionIdleSeconds, maxSeconds: sessionBound.sessionMaxSeconds },
    },
  };
}

export function formatZeroDowntime(report: ZeroDowntimeReport): string {
  const row = (name: string, phase: { count: number; p50: number; p99: number }) =>
    `| ${name} | ${phase.count} | ${phase.p50.toFixed(1)} ms | ${phase.p99.toFixed(1)} ms |`;
  return [
    `${report.cutovers} cutovers (${report.cycles} deploys, ${report.cycles} rollbacks): ${report.traffic.sent} requests, ${report.traffic.failed} failed, ${report.traffic.retried} retried after a keep-alive reset; ${report.slow.sent} long tools/call requests, ${report.slow.failed} failed, ${report.slow.retried} retried`,
    '',
    '| phase | requests | p50 | p99 |',
    '| --- | --- | --- | --- |',
    row('before', report.phases.before),
    row('during cutovers', report.phases.during),
    row('after', report.phases.after),
    '',
    `MCP sessions (drain.sessionIdleSeconds ${report.sessions.bound.idleSeconds}, drain.sessionMaxSeconds ${report.sessions.bound.maxSeconds}):`,
    '',
    '| cohort | sessions | calls | failed | 404 |',
    '| --- | --- | --- | --- | --- |',
    sessionRow(`each ended within the bound (${report.sessions.bound.maxSeconds / 2} s)`, report.sessions.withinBound),
    sessionRow('one held through every cutover', report.sessions.heldThrough),
  ].join('\n');
}

function sessionRow(name: string, cohort: ZeroDowntimeReport['sessions']['withinBound']): string {
  return `| ${name} | ${cohort.sessions} | ${cohort.calls} | ${cohort.failed} | ${cohort.notFound} |`;
}
