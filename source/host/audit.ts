import { z } from 'zod';
import { DeployError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import { runChecked, type Transport } from '../remote/transport.js';
import { type AuditRecord, auditOperations } from '../run/audit-record.js';
import type { HostLayout } from './layout.js';

/**
 * audit.log: one JSON line per deploy, rollback, restart, prune, lock, unlock and exec, appended on the host so every
 * operator reads the same history. Callers must keep secrets out of records; nothing here adds
 * environment values.
 */

/** A line that could not be read as a record: its 1-based line number in audit.log and its start. */
export type MalformedAuditLine = { readonly malformed: number; readonly text: string };

export type AuditEntry = AuditRecord | MalformedAuditLine;

const auditRecordSchema = z.looseObject({
  at: z.string(),
  operator: z.string(),
  localHost: z.string(),
  target: z.string(),
  operation: z.enum(auditOperations),
  from: z.string().nullable(),
  to: z.string().nullable(),
  result: z.enum(['ok', 'failed', 'rolled-back', 'interrupted']),
  steps: z.array(z.object({ name: z.string(), status: z.string(), ms: z.number() })),
  error: z.object({ step: z.string(), message: z.string() }).optional(),
  message: z.string().optional(),
  command: z.string().optional(),
  brokenLock: z.string().optional(),
  truncated: z.literal(true).optional(),
});

/**
 * Under PIPE_BUF (4096 on Linux), a single write to a file opened with O_APPEND lands whole and
 * is never interleaved with another operator's; `cat` writes what it read in one go when the
 * line arrives in one piece, which a line this short does.
 */
export const maxAuditLineBytes = 4000;

export function isMalformedAuditLine(entry: AuditEntry): entry is MalformedAuditLine {
  return 'malformed' in entry;
}

export async function appendAudit(transport: Transport, layout: HostLayout, record: AuditRecord): Promise<void> {
  const line = `${auditLine(record)}\n`;
  await runChecked(transport, { script: script(op('cat >>'), arg(layout.auditLog)) }, `Appending to ${layout.auditLog}`, {
    input: line,
    timeoutMs: 30_000,
  });
}

/** The record as one JSON line of at most maxAuditLineBytes, shortening the long parts if needed. */
export function auditLine(record: AuditRecord): string {
  const full = JSON.stringify(record);
  if (byteLength(full) <= maxAuditLineBytes) return full;
  // The error message is what grows (a log tail, a stack): shorten it first, then drop the last
  // steps; only absurdly long names are left after that, and they are cut too.
  const marked: AuditRecord = { ...record, truncated: true };
  for (let keep = record.steps.length; keep >= 0; keep -= 1) {
    const fitted = fitMessage({ ...marked, steps: record.steps.slice(0, keep) });
    if (fitted !== null) return fitted;
  }
  for (const cap of [200, 40]) {
    const capped: AuditRecord = {
      ...marked,
      at: cut(record.at, cap),
      operator: cut(record.operator, cap),
      localHost: cut(record.localHost, cap),
      target: cut(record.target, cap),
      from: record.from === null ? null : cut(record.from, cap),
      to: record.to === null ? null : cut(record.to, cap),
      steps: [],
      ...(record.error ? { error: { step: cut(record.error.step, cap), message: record.error.message } } : {}),
    };
    const fitted = fitMessage(capped);
    if (fitted !== null) return fitted;
  }
  throw new Error('an audit record could not be shortened to one line'); // unreachable: 40-character fields fit
}

/** The line with the longest prefix of the error message that fits, or null if none does. */
function fitMessage(record: AuditRecord): string | null {
  const fits = (line: string) => byteLength(line) <= maxAuditLineBytes;
  const error = record.error;
  if (error === undefined) {
    const line = JSON.stringify(record);
    return fits(line) ? line : null;
  }
  const withPrefix = (characters: number) => JSON.stringify({ ...record, error: { ...error, message: cut(error.message, characters) } });
  let best = withPrefix(0);
  if (!fits(best)) return null;
  let low = 0;
  let high = error.message.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    const line = withPrefix(middle);
    if (fits(line)) {
      low = middle;
      best = line;
    } else {
      high = middle - 1;
    }
  }
  return best;
}

/**
 * The last `limit` lines of audit.log (all when no limit), oldest first. Lines that are not
 * records are returned as `{ malformed: lineNumber }`, not thrown: one bad line must not hide the
 * history around it.
 */
export async function readAudit(transport: Transport, layout: HostLayout, options: { limit?: number } = {}): Promise<AuditEntry[]> {
  const limit = options.limit;
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0))
    throw new Error(`readAudit limit must be a whole number, got ${limit}`);
  if (limit === 0) return [];
  // awk numbers every line (one pass, so numbers and text agree even while someone appends) and
  // tail keeps the last ones; only those cross the wire.
  const text = script(
    op('[ -f'),
    arg(layout.auditLog),
    op('] || exit 0; awk \'{ print NR ":" $0 }\' <'),
    arg(layout.auditLog),
    ...(limit === undefined ? [] : [op('| tail -n'), arg(String(limit))]),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 60_000 });
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not read ${layout.auditLog} on ${transport.label}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  const entries: AuditEntry[] = [];
  for (const numbered of result.stdout.split('\n')) {
    if (numbered === '') continue;
    const colon = numbered.indexOf(':');
    const lineNumber = Number(numbered.slice(0, colon));
    const line = numbered.slice(colon + 1);
    if (line.trim() === '') continue;
    entries.push(parseAuditLine(line, lineNumber));
  }
  return entries;
}

export function parseAuditLine(line: string, lineNumber: number): AuditEntry {
  try {
    const parsed = auditRecordSchema.safeParse(JSON.parse(line));
    if (parsed.success) return parsed.data as AuditRecord;
  } catch {
    // reported below
  }
  return { malformed: lineNumber, text: cut(line, 200) };
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** At most `characters` UTF-16 units of the text, never half a surrogate pair, marked when cut. */
function cut(text: string, characters: number): string {
  if (text.length <= characters) return text;
  let end = characters;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}
