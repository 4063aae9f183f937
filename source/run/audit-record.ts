/**
 * What one run leaves in the host's audit log, as a type: the engine writes it (host/audit.ts
 * appends it), the `audit` event carries it, and notifications tell the same story from it.
 */

/** Runs that change what serves (deploy, rollback, restart), prune, the lock's taking and removal, commands run with exec, and API key changes (ids only). */
export const auditOperations = ['deploy', 'rollback', 'restart', 'prune', 'lock', 'unlock', 'exec', 'keys'] as const;
export type AuditOperation = (typeof auditOperations)[number];
export type AuditResult = 'ok' | 'failed' | 'rolled-back' | 'interrupted';
export type AuditStep = { readonly name: string; readonly status: string; readonly ms: number };

export type AuditRecord = {
  /** Host time (ISO) when known, else the operator's. */
  readonly at: string;
  readonly operator: string;
  readonly localHost: string;
  readonly target: string;
  readonly operation: AuditOperation;
  readonly from: string | null;
  readonly to: string | null;
  readonly result: AuditResult;
  readonly steps: readonly AuditStep[];
  readonly error?: { readonly step: string; readonly message: string };
  /** `lock`: the reason given with `lock acquire -m`; `unlock`: the reason of the lock that was removed; `keys`: what changed, by key id. */
  readonly message?: string;
  /** `exec`: the command that ran in the active release (masked like all output). */
  readonly command?: string;
  /** An `unlock` that broke a lock: whose it was, in words (holder, since when, for what, why stale). */
  readonly brokenLock?: string;
  /** A run of a fleet: the fleet run's id, the same in every host's audit log. */
  readonly fleetRun?: string;
  /** Set when the record was shortened to fit one atomic append. */
  readonly truncated?: true;
};
