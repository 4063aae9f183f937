import { type AuditEntry, isMalformedAuditLine, readAudit } from '../host/audit.js';
import { hostLayout } from '../host/layout.js';
import type { Transport } from '../remote/transport.js';
import type { AuditRecord } from '../run/audit-record.js';
import type { EngineContext } from './context.js';

export type AuditHistory = {
  readonly target: string;
  readonly host: string;
  /** Oldest first, as in the file. */
  readonly entries: readonly AuditRecord[];
  /** Lines that are not records, by their line number in audit.log: shown, never dropped silently. */
  readonly malformed: readonly { readonly line: number; readonly text: string }[];
};

/** `mcp-deploy audit`: the last `lines` lines of the host's audit.log, read in one command. */
export async function readAuditHistory(
  context: Pick<EngineContext, 'target'>,
  transport: Transport,
  options: { readonly lines: number },
): Promise<AuditHistory> {
  const entries: AuditEntry[] = await readAudit(transport, hostLayout(context.target.path), { limit: options.lines });
  return {
    target: context.target.name,
    host: transport.label,
    entries: entries.filter((entry): entry is AuditRecord => !isMalformedAuditLine(entry)),
    malformed: entries.filter(isMalformedAuditLine).map((entry) => ({ line: entry.malformed, text: entry.text })),
  };
}
