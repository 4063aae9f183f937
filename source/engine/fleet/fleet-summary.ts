import type { FleetHostResult, FleetOperation, FleetOutcome } from '../../run/events.js';
import type { RunSummary } from '../operation.js';
import type { StepId } from '../../run/step-ids.js';

/** What a fleet run ends with: the CLI prints it (`--json`: this shape, a public contract) and exits with its code. */
export type FleetSummary = {
  readonly ok: boolean;
  readonly operation: FleetOperation;
  readonly target: string;
  /** The id every host's audit record carries (`fleetRun`). */
  readonly runId: string;
  /** The release the run moved to (deploy: the new one; rollback: the one gone back to). */
  readonly release: string | null;
  readonly outcome: FleetOutcome;
  readonly batches: readonly (readonly string[])[];
  readonly hosts: readonly FleetHostResult[];
  /** Each host's own run, as a one-host run reports it. */
  readonly runs: readonly { readonly host: string; readonly summary: RunSummary | null }[];
  /** Why the fleet stopped, when it did: the first host that failed, or a local step. */
  readonly error?: { readonly host: string | null; readonly step: StepId; readonly message: string; readonly hint?: string };
  readonly exitCode: number;
};
