import type { RunSummary } from '../engine/deploy.js';
import type { ReleasesListing } from '../engine/inspect.js';
import type { DeployPlan, HostOverview } from '../engine/plan.js';
import type { StatusSample } from '../engine/status-sample.js';
import type { Listener, LogSource } from '../run/events.js';

/**
 * The app's one door to the layers below it: engine results, host listings and the init
 * detection come through here, so ui/ depends on an interface it names rather than on modules.
 */
export type { RunSummary } from '../engine/deploy.js';
export type { ReleaseRow, ReleasesListing } from '../engine/inspect.js';
export type { DeployPlan, HostOverview } from '../engine/plan.js';
export type { ColourSample, StatusSample } from '../engine/status-sample.js';
export { type AuditMark, changedRelease } from '../engine/release-marks.js';
export { chooseRelease } from '../engine/rollback.js';
export { isProbeLine } from '../health/probe-agent.js';
export { describeSummary, summarizeContract } from '../contract/contract.js';
export type { Detection } from '../ops/init-detect.js';
export { initFields, type AnswerTexts, type FieldKey } from '../ops/init-config.js';

/**
 * Everything the terminal app asks of the engine, in one small interface. The CLI implements it
 * over a real run context (source/cli/app-bridge.ts); tests implement it with a few functions and
 * an EventBus they drive. The app learns what happens only through `events` and these results.
 */
export type AppEngine = {
  readonly app: string;
  readonly target: string;
  /** The engine's event bus; the app subscribes and never emits. */
  readonly events: { on(listener: Listener): () => void };
  /** Aborted when a stop was asked for, by a key or by SIGINT/SIGTERM from outside. */
  readonly signal: AbortSignal;
  /** Asks for a safe stop (roll back what must be, unlock); calling it again only says "please wait". */
  interrupt(): void;
  /** Local checks, then a read-only look at the host: what a deploy would change. */
  plan(): Promise<DeployPlan>;
  /** `allowBreaking`: the operator confirmed the plan's breaking contract changes. */
  deploy(choice?: { readonly allowBreaking?: boolean }): Promise<RunSummary>;
  rollback(release: string | undefined): Promise<RunSummary>;
  overview(): Promise<HostOverview>;
  releases(): Promise<ReleasesListing>;
  /**
   * Follows a log on the host on a connection of its own (the run's is closed when it ends)
   * until `signal` aborts or the remote tail exits. Rejects when there is nothing to follow.
   */
  followLog(request: FollowRequest): Promise<void>;
  /**
   * Samples the host every `intervalMs` on a connection of its own (the dashboard), until
   * `signal` aborts. Rejects when the host cannot be sampled at all.
   */
  watchStatus(request: WatchRequest): Promise<void>;
  /** The message and exit code for an error an operation threw. */
  failure(error: unknown): Failure;
};

export type FollowRequest = {
  readonly onLine: (line: string, source: LogSource) => void;
  readonly signal: AbortSignal;
  /** nginx's error log instead of the active release's server log. */
  readonly nginx?: boolean;
  /** How many existing lines to show first. */
  readonly lines?: number;
};

export type WatchRequest = {
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  readonly onSample: (sample: StatusSample) => void;
};

export type Failure = { readonly exitCode: number; readonly message: string; readonly hint?: string };

/** The fleet's terminal app's engine (ui/fleet-matrix.tsx): one fleet deploy or rollback, its events tagged by host. */
export type FleetAppEngine = {
  readonly app: string;
  readonly target: string;
  readonly operation: 'deploy' | 'rollback';
  readonly hosts: readonly string[];
  readonly batches: readonly (readonly string[])[];
  readonly events: { on(listener: Listener): () => void };
  /** Runs the fleet operation; resolves with its exit code. */
  run(): Promise<number>;
  interrupt(): void;
};

/** The fleet's releases for the fleet releases browser: a row per release, a mark per host (● active ○ present ✖ failed). */
export type FleetReleasesListing = {
  readonly hosts: readonly string[];
  readonly rows: readonly { readonly id: string; readonly hosts: Readonly<Record<string, string>>; readonly differs: boolean }[];
  /** Hosts whose releases could not be read. */
  readonly unreadable: readonly string[];
};

/** The first screen the app opens on, chosen by the command that started it. */
export type AppView = 'deploy' | 'rollback' | 'releases' | 'logs' | 'dashboard';
