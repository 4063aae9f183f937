import { edgeHeaders } from './keys-host.js';
import { readAudit, isMalformedAuditLine } from '../host/audit.js';
import type { AuditRecord } from '../run/audit-record.js';
import { hostLayout } from '../host/layout.js';
import { readLock, type LockStatus } from '../host/lock.js';
import { listReleases, type Release } from '../host/releases.js';
import { readState, type HostState } from '../host/state.js';
import { probeHttp } from '../health/http-probe.js';
import type { Transport } from '../remote/transport.js';
import { colours, portOf, type Colour } from './colours.js';
import type { EngineContext } from './context.js';
import { readIncludes } from './nginx.js';
import type { Routing } from './nginx-routing.js';
import { observeServing, type ServedBy } from './served-by.js';
import { liveSessions, SessionLogReader } from './session-log.js';
import { createSupervisor } from './supervisor/create-supervisor.js';

export type ColourStatus = {
  readonly colour: Colour;
  readonly port: number;
  readonly running: boolean;
  /** Whether its HTTP checks pass right now; null when it is not running. */
  readonly healthy: boolean | null;
  readonly problem?: string;
  /**
   * The sessions nginx keeps on it, from the session log: `active` had a request within
   * drain.sessionIdleSeconds, `lastHour` within the hour (neither counts sessions that ended).
   * null when the routing retired it (its sessions get 404 from nginx) or states nothing.
   */
  readonly sessions: { readonly tag: string; readonly active: number; readonly lastHour: number } | null;
};

export type HostStatus = {
  readonly target: string;
  readonly host: string;
  readonly state: HostState | null;
  readonly trafficPort: number | null;
  /** What the includes route; null for an include written before sessions were pinned (or none). */
  readonly routing: Routing | null;
  /** Who answers through publicUrl right now, by nginx's own colour header or a reported release; null when nothing answered. */
  readonly servedBy: ServedBy | null;
  /** Whether nginx's session log could be read (it exists once a site uses the location include). */
  readonly sessionLog: { readonly path: string; readonly readable: boolean };
  readonly colours: readonly ColourStatus[];
  readonly lock: LockStatus;
};

/** `mcp-deploy status`: what serves, both colours' health, who holds the lock. Read-only. */
export async function readStatus(context: EngineContext, transport: Transport): Promise<HostStatus> {
  const { target, config } = context;
  const layout = hostLayout(target.path);
  const supervisor = createSupervisor(target, transport, layout, config.app);
  const log = new SessionLogReader(transport, target.nginx.sessionLog);
  const [state, includes, lock, clock, servedBy] = await Promise.all([
    readState(transport, layout),
    readIncludes(transport, target),
    readLock(transport, layout, { staleMinutes: target.lockStaleMinutes, localHostName: context.localHost }),
    log.read(),
    edgeHeaders(transport, target)
      .then((headers) => observeServing(target.publicUrl, config.health, { headers }))
      .catch(() => null),
  ]);
  const { routing } = includes;
  const sessionsOn = (colour: Colour): ColourStatus['sessions'] => {
    const tag = routing?.tags[colour] ?? null;
    if (tag === null) return null;
    return {
      tag,
      active: liveSessions(log.book, tag, clock.now - config.drain.sessionIdleSeconds).length,
      lastHour: liveSessions(log.book, tag, clock.now - 3600).length,
    };
  };
  const colourStatus = await Promise.all(
    colours.map(async (colour): Promise<ColourStatus> => {
      const port = portOf(target, colour);
      const sessions = sessionsOn(colour);
      const running = await supervisor.isRunning(colour);
      if (!running) return { colour, port, running, healthy: null, sessions };
      const tunnel = await transport.openTunnel(port);
      try {
        await probeHttp(`http://127.0.0.1:${tunnel.localPort}`, config.health.http, { timeoutMs: 5_000 });
        return { colour, port, running, healthy: true, sessions };
      } catch (error) {
        return { colour, port, running, healthy: false, problem: error instanceof Error ? error.message : String(error), sessions };
      } finally {
        await tunnel.close();
      }
    }),
  );
  return {
    target: target.name,
    host: transport.label,
    state,
    trafficPort: includes.port,
    routing,
    servedBy,
    sessionLog: { path: target.nginx.sessionLog, readable: clock.readable },
    colours: colourStatus,
    lock,
  };
}

export type ReleaseRow = Release & {
  readonly active: boolean;
  readonly previous: boolean;
  /** The last audit result that deployed or rolled back to it. */
  readonly lastResult: AuditRecord['result'] | null;
  readonly deployedBy: string | null;
};

/** `mcp-deploy releases`: the host's releases, newest first, with marks and audit results. */
export async function readReleases(
  context: EngineContext,
  transport: Transport,
): Promise<{ rows: ReleaseRow[]; state: HostState | null; malformedAuditLines: number }> {
  const layout = hostLayout(context.target.path);
  const [releases, state, audit] = await Promise.all([
    listReleases(transport, layout),
    readState(transport, layout),
    readAudit(transport, layout, { limit: 500 }),
  ]);
  const lastById = new Map<string, AuditRecord>();
  let malformed = 0;
  for (const entry of audit) {
    if (isMalformedAuditLine(entry)) malformed += 1;
    else if (entry.to !== null) lastById.set(entry.to, entry);
  }
  const rows = releases.map((release) => {
    const record = lastById.get(release.id);
    return {
      ...release,
      active: state?.active?.release === release.id,
      previous: state?.previous === release.id,
      lastResult: record?.result ?? null,
      deployedBy: record?.operator ?? release.operator,
    };
  });
  return { rows, state, malformedAuditLines: malformed };
}

export type ReleasesListing = {
  /** How the transport names the host. */
  readonly host: string;
  readonly state: HostState | null;
  readonly lock: LockStatus;
  readonly rows: readonly ReleaseRow[];
  readonly malformedAuditLines: number;
};

/** The releases browser's picture: the releases, what serves, and who holds the lock. */
export async function readReleasesListing(context: EngineContext, transport: Transport): Promise<ReleasesListing> {
  const layout = hostLayout(context.target.path);
  const [listing, lock] = await Promise.all([
    readReleases(context, transport),
    readLock(transport, layout, { staleMinutes: context.target.lockStaleMinutes, localHostName: context.localHost }),
  ]);
  return { host: transport.label, state: listing.state, lock, rows: listing.rows, malformedAuditLines: listing.malformedAuditLines };
}
