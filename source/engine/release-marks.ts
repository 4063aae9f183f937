import { isMalformedAuditLine, parseAuditLine } from '../host/audit.js';
import type { AuditOperation, AuditResult } from '../run/audit-record.js';

/**
 * The audit.log lines a status sample carries: what the dashboard lists under "audit", and the
 * release marks it puts on its time axis (where a deploy or rollback changed what serves).
 */
export type AuditMark = {
  readonly at: string;
  /** `at` as epoch seconds; null when it does not parse. */
  readonly t: number | null;
  readonly operation: AuditOperation;
  readonly result: AuditResult;
  readonly from: string | null;
  readonly to: string | null;
  readonly operator: string;
};

/** Lines that are not records are left out here: `mcp-deploy releases` reports them. */
export function auditMarks(lines: readonly string[]): AuditMark[] {
  const marks: AuditMark[] = [];
  for (const [index, line] of lines.entries()) {
    const entry = parseAuditLine(line, index + 1);
    if (isMalformedAuditLine(entry)) continue;
    const t = Date.parse(entry.at);
    marks.push({
      at: entry.at,
      t: Number.isFinite(t) ? t / 1000 : null,
      operation: entry.operation,
      result: entry.result,
      from: entry.from,
      to: entry.to,
      operator: entry.operator,
    });
  }
  return marks;
}

/** Whether the record changed what serves: a deploy, rollback or restart that went through. */
export function changedRelease(mark: Pick<AuditMark, 'operation' | 'result'>): boolean {
  return (mark.operation === 'deploy' || mark.operation === 'rollback' || mark.operation === 'restart') && mark.result === 'ok';
}
