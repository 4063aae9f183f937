/**
 * What one run leaves in the host's audit log, as a type: the engine writes it (host/audit.ts
 * appends it), the `audit` event carries it, and notifications tell the same story from it.
 */

export type AuditOperation = 'deploy' | 'rollback' | 'unlock';
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
  /** Set when the record was shortened to fit one atomic append. */
  readonly truncated?: true;
};
