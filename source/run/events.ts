/**
 * What the engine tells the world. The Ink app, the plain reporter and the JSON reporter are
 * subscribers of these events and nothing else; the engine never writes to the terminal.
 *
 * A kind-tagged union, so each subscriber can format per kind and TypeScript checks that every
 * kind is handled.
 */

import type { AuditRecord } from './audit-record.js';
import type { DeclaredStep, StepId } from './step-ids.js';

export type Operation = 'validate' | 'deploy' | 'rollback' | 'restart' | 'prune' | 'status' | 'logs' | 'releases' | 'unlock';

export type ProgressUnit = 'bytes' | 'files' | 'checks' | 'seconds';

export type LogSource = 'server' | 'nginx' | 'engine';

export type EngineEvent =
  | {
      readonly kind: 'run:start';
      readonly operation: Operation;
      readonly target: string | null;
      readonly at: number;
      /** The steps this run expects to go through, in order: what the checklist shows before they start. */
      readonly steps: readonly DeclaredStep[];
    }
  | { readonly kind: 'step:start'; readonly step: StepId; readonly title: string; readonly at: number }
  | {
      readonly kind: 'step:progress';
      readonly step: StepId;
      readonly done: number;
      readonly total: number;
      readonly unit: ProgressUnit;
      readonly detail?: string;
    }
  | { readonly kind: 'step:done'; readonly step: StepId; readonly ms: number; readonly detail?: string }
  | {
      readonly kind: 'step:failed';
      readonly step: StepId;
      readonly ms: number;
      readonly message: string;
      readonly hint?: string;
      /** Extra context such as file:line findings or the last lines of a server log. */
      readonly details?: readonly string[];
    }
  | { readonly kind: 'step:skipped'; readonly step: StepId; readonly title: string; readonly reason: string }
  | { readonly kind: 'log'; readonly source: LogSource; readonly line: string; readonly at: number }
  | {
      readonly kind: 'rollback';
      readonly phase: 'start' | 'done' | 'failed';
      readonly reason: string;
      /** What serves traffic now, in words: "release 20261124T101500Z-abc1234 on green (5003)". */
      readonly serving: string | null;
    }
  | { readonly kind: 'notice'; readonly level: 'info' | 'warn'; readonly message: string }
  /** The line this run appended to the host's audit.log: notifications carry the same record. */
  | { readonly kind: 'audit'; readonly record: AuditRecord }
  /**
   * The new release's MCP contract compared with the active one's (source/contract/diff.ts), once
   * its health checks passed. `changes` are breaking first; `against` is the release compared with.
   */
  | {
      readonly kind: 'contract';
      readonly against: string | null;
      readonly summary: string;
      readonly changes: readonly ContractChangeLine[];
    }
  /** `mcp-deploy monitor` found the serving release's verdict changed: ok → failing, or failing → ok. */
  | { readonly kind: 'monitor'; readonly alert: MonitorAlert }
  /** The release this run moves to, once the host has given it an id (deploy) or it was chosen (rollback). */
  | { readonly kind: 'release'; readonly release: string; readonly previous: string | null }
  /** One host's event in a fleet run: each host's run reports as a one-host run does, tagged with the host. */
  | { readonly kind: 'host'; readonly host: string; readonly event: EngineEvent }
  /** A fleet run begins: its id (in every host's audit log), its hosts, and the batches they go in (the canary first). */
  | {
      readonly kind: 'fleet:start';
      readonly operation: FleetOperation;
      readonly target: string;
      readonly runId: string;
      readonly hosts: readonly string[];
      readonly batches: readonly (readonly string[])[];
    }
  /** A batch of hosts starts its cutover (index 0 is the canary when the fleet has more than one host). */
  | { readonly kind: 'fleet:batch'; readonly index: number; readonly hosts: readonly string[] }
  /** The fleet run is over: what each host serves now, and the fleet's outcome. */
  | {
      readonly kind: 'fleet:end';
      readonly ok: boolean;
      readonly outcome: FleetOutcome;
      readonly release: string | null;
      readonly hosts: readonly FleetHostResult[];
    }
  | {
      readonly kind: 'run:end';
      readonly ok: boolean;
      readonly ms: number;
      readonly release?: string | null;
      readonly previous?: string | null;
      readonly rolledBack?: boolean;
      readonly error?: { readonly step: StepId; readonly message: string };
    };

export type EventKind = EngineEvent['kind'];

export type FleetOperation = 'deploy' | 'rollback';

/**
 * `ok`: every host serves the new release; `rolled-back`: a host failed and the ones already
 * switched went back (the fleet serves its previous release); `halted`: a host failed and the
 * switched ones were kept (rollout.onFailure "halt"); `stopped`: the pre-flight found a host it
 * could not lock or reach, and nothing changed; `interrupted`: Ctrl-C.
 */
export type FleetOutcome = 'ok' | 'rolled-back' | 'halted' | 'stopped' | 'interrupted';

/** One host at the end of a fleet run; `--json` prints these (their names are a public contract). */
export type FleetHostResult = {
  readonly host: string;
  readonly ok: boolean;
  /** Whether traffic on this host moved to the run's release at some point. */
  readonly switched: boolean;
  /** Whether it was moved back afterwards (its own failure, or the fleet's). */
  readonly rolledBack: boolean;
  /** The release it serves now, when known. */
  readonly serving: string | null;
  readonly previous: string | null;
  readonly error?: { readonly step: StepId; readonly message: string };
  readonly exitCode: number;
};

/**
 * What a monitor transition says, with its evidence: the webhook sends it as its body (after
 * `event`), so these names are a public contract (docs/notifications.md#monitor-alerts).
 */
export type MonitorAlert = {
  /** `failing`: it was ok (or never checked) and is not; `recovered`: it was failing and is ok. */
  readonly transition: 'failing' | 'recovered';
  readonly target: string;
  /** The release serving at the check, if any. */
  readonly release: string | null;
  /** Each threshold crossed, in words; empty on recovery. */
  readonly problems: readonly string[];
  /** The failing verdict's start: now for `failing`, when it began for `recovered`. */
  readonly since: string;
  /** Host time of the check. */
  readonly at: string;
  readonly evidence: MonitorEvidence;
};

export type MonitorEvidence = {
  readonly colour: string | null;
  readonly health: string;
  /** Through nginx over the checked window; null without an access log. */
  readonly requests: number | null;
  readonly errors: number | null;
  readonly errorRate: number | null;
  readonly p99Ms: number | null;
  readonly rssBytes: number | null;
  readonly restarts: number;
  readonly samples: number;
  /** Seconds from the first sample to the last. */
  readonly windowSeconds: number;
  /** Since the last deploy against the release before it, in words. */
  readonly comparison: readonly string[];
};

/** One line of a contract diff as events carry it: rule ids and severities are documented in docs/contract.md. */
export type ContractChangeLine = { readonly rule: string; readonly severity: 'breaking' | 'risky' | 'safe'; readonly text: string };

export type Listener = (event: EngineEvent) => void;

/** A tiny synchronous emitter: listeners see events in order, and a throwing listener never breaks a deploy. */
export class EventBus {
  readonly #listeners = new Set<Listener>();

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: EngineEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A reporter bug must not abort a cutover half-way; the event is simply lost for it.
      }
    }
  }
}
