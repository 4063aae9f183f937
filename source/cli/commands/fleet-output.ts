import type { FleetSummary } from '../../engine/fleet/fleet-summary.js';
import type { Output } from '../output.js';
import { jsonSummary } from './summary-json.js';

/** The end of a fleet deploy or rollback: the JSON document with --json (the plain lines came with fleet:end). */
export function finishFleet(summary: FleetSummary, output: Output): number {
  if (output.json) output.document(fleetJson(summary));
  return summary.exitCode;
}

/** `--json` of a fleet run: the fleet's outcome, a result per host, each host's own run. Field names are a public contract. */
export function fleetJson(summary: FleetSummary) {
  return {
    ok: summary.ok,
    operation: summary.operation,
    target: summary.target,
    fleetRun: summary.runId,
    release: summary.release,
    outcome: summary.outcome,
    batches: summary.batches,
    hosts: summary.hosts.map((host) => {
      const run = summary.runs.find((entry) => entry.host === host.host)?.summary ?? null;
      return { ...host, run: run === null ? null : jsonSummary(run) };
    }),
    ...(summary.error ? { error: summary.error } : {}),
    exitCode: summary.exitCode,
  };
}
