import type { LockStatus } from '../host/lock.js';
import type { HostState } from '../host/state.js';
import type { TrafficWindow } from './access-log.js';
import type { Colour } from './colours.js';
import type { Comparison } from './degradation.js';
import type { AuditMark } from './release-marks.js';

/**
 * What `status --watch`, the dashboard and `monitor` see of a host at one moment. The same
 * fields go out as NDJSON (`status --watch --json`), one object per sample.
 */
export type StatusSample = {
  /** Host time of the sample, ISO 8601, and as epoch seconds. */
  readonly at: string;
  readonly t: number;
  /** 1 for the first sample of a run. */
  readonly seq: number;
  readonly target: string;
  readonly host: string;
  readonly active: HostState['active'];
  readonly previous: string | null;
  /** Where nginx's include sends traffic; null without an include of ours. */
  readonly trafficPort: number | null;
  /** A state.json that could not be read, in words. */
  readonly stateProblem?: string;
  readonly lock: LockStatus;
  readonly colours: readonly ColourSample[];
  /** The last audit.log records, oldest first. */
  readonly audit: readonly AuditMark[];
  /** The access log as read this tick: bytes read, bytes skipped (too much at once); null without `watch.accessLog`. */
  readonly accessLog: { readonly file: string; readonly readable: boolean; readonly bytesRead: number; readonly skipped: number } | null;
  /** The serving release's traffic since it took over against the release before it; null without an access log. */
  readonly comparison: Comparison | null;
};

export type ColourSample = {
  readonly colour: Colour;
  readonly port: number;
  readonly running: boolean;
  /** Whether its HTTP checks and an MCP probe pass now; null when it is not running. */
  readonly healthy: boolean | null;
  readonly problem?: string;
  /** nginx routes new traffic to it. */
  readonly serving: boolean;
  /** The release state.json says it runs (the active one), or null. */
  readonly release: string | null;
  readonly pid: number | null;
  /** The process's start time in clock ticks since boot: with `pid`, it tells a restart from the same process. */
  readonly startTicks: number | null;
  /** Its process is another one than at the previous sample, for the same release. */
  readonly restarted: boolean;
  /** This probe's MCP round trip (handshake, tools/list, configured calls), and p50/p99 over the last probes. */
  readonly mcp: { readonly ms: number | null; readonly p50Ms: number | null; readonly p99Ms: number | null };
  /** Percent of one core since the previous sample, for the server's whole process tree. */
  readonly cpuPercent: number | null;
  readonly rssBytes: number | null;
  readonly processes: number | null;
  /** What nginx logged for it since the previous sample; null without an access log. */
  readonly nginx: NginxFigures | null;
  /** MCP sessions on it with a request within drain.sessionIdleSeconds (nginx's session log); null when stopped or the log cannot be read (shown as "—"). */
  readonly sessions: number | null;
};

export type NginxFigures = {
  readonly requests: number;
  /** null at the first sample: the first look covers an unknown stretch of time. */
  readonly perSecond: number | null;
  readonly errors: number;
  readonly errorRate: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
};

/** The sampler's memory that `monitor` keeps on the host between runs. */
export type SamplerMemory = {
  readonly accessCursor: { readonly offset: number; readonly inode: string };
  readonly windows: { readonly since: TrafficWindow; readonly prior: TrafficWindow; readonly release: string | null };
};
