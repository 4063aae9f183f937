import { describeError } from '../errors.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import type { AuditRecord } from '../run/audit-record.js';
import { auditLine } from './audit.js';
import type { HostLayout } from './layout.js';
import { releaseLockScript, releaseOutcome, type ReleaseOutcome } from './lock.js';

/**
 * The end of a run, in one command: the audit record is appended with the host's time at that
 * moment, then the lock is released if it is still this run's (releaseLock). The append does not
 * depend on the unlock nor the unlock on the append: each one's failure is reported on its own.
 */

/** Stands for the host's time in the record's line until the host writes it in; as long as a time. */
const hostTimeMark = '0000-00-00T00:00:00Z';

export type RunEnd = {
  /** The record as appended (its time the host's, or `fallbackAt` when the host's clock could not be read). */
  readonly record: AuditRecord;
  /** Why the append failed; null when it was written. */
  readonly auditProblem: string | null;
  /** The unlock's outcome, or why it failed. */
  readonly unlock: ReleaseOutcome | { readonly problem: string };
};

export async function appendAuditAndUnlock(
  transport: Transport,
  layout: HostLayout,
  token: string,
  record: Omit<AuditRecord, 'at'>,
  /** The operator's time, for when the host's clock cannot be read. */
  fallbackAt: string,
): Promise<RunEnd> {
  // `at` first: the host puts its time in place of the mark at the start of the line.
  const line = `${auditLine({ at: hostTimeMark, ...record })}\n`;
  const text = script(
    op('set --'),
    arg(fallbackAt),
    op(
      `; mcpd_at=$(date -u '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null); case $mcpd_at in ????-??-??T??:??:??Z) ;; *) mcpd_at=$1 ;; esac; printf 'at %s\\n' "$mcpd_at";`,
    ),
    // One line under PIPE_BUF, written by sed in one go at its end: an atomic append (audit.ts).
    op(`if sed '1s/^{"at":"${hostTimeMark}"/{"at":"'"$mcpd_at"'"/' >>`),
    arg(layout.auditLog),
    op("; then printf 'appended\\n'; else printf 'not-appended\\n'; fi;"),
    ...releaseLockScript(layout, token),
  );
  let result: Awaited<ReturnType<Transport['run']>>;
  try {
    result = await transport.run({ script: text }, { input: line, timeoutMs: 30_000 });
  } catch (error) {
    const problem = describeError(error);
    return { record: { at: fallbackAt, ...record }, auditProblem: problem, unlock: { problem } };
  }
  const [atLine, appended, outcome] = result.stdout.split('\n');
  const at = atLine?.startsWith('at ') ? atLine.slice(3) : fallbackAt;
  const stderr = result.stderr.trim();
  const auditProblem =
    appended === 'appended' ? null : `Appending to ${layout.auditLog} failed${stderr === '' ? ` (exit ${result.code})` : `: ${stderr}`}`;
  let unlock: RunEnd['unlock'];
  try {
    unlock = releaseOutcome(transport, layout, result.code, outcome ?? '', result.stderr);
  } catch (error) {
    unlock = { problem: describeError(error) };
  }
  return { record: { at, ...record }, auditProblem, unlock };
}
