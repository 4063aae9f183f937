import type { ChalkInstance } from 'chalk';
import { readAuditHistory } from '../../engine/audit-history.js';
import type { AuditRecord } from '../../run/audit-record.js';
import { formatDuration } from '../../run/format.js';
import { wholeNumberOption } from '../number-option.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { withHost } from '../with-host.js';

export type AuditOptions = GlobalOptions & { readonly lines?: string };

/** `mcp-deploy audit [--lines N] [--json]`: what was done to the host, by whom, oldest first. */
export async function auditCommand(options: AuditOptions, output: Output): Promise<number> {
  const lines = wholeNumberOption('--lines', options.lines, 50);
  return withHost(options, output, async (context, transport) => {
    const history = await readAuditHistory(context, transport, { lines });
    if (output.json) {
      output.document(history);
      return 0;
    }
    if (history.entries.length === 0 && history.malformed.length === 0) output.line(`Nothing in the audit log on ${history.host} yet.`);
    for (const record of history.entries) output.line(auditText(record, output.paint));
    for (const bad of history.malformed) {
      output.line(output.paint.yellow(`! audit.log line ${bad.line} is not a record (left as it is): ${bad.text}`));
    }
    return 0;
  });
}

/** One record as one line (and a second for its error): when, what, how it ended, who, and what it moved. */
export function auditText(record: AuditRecord, paint: ChalkInstance): string {
  const result =
    record.result === 'ok'
      ? paint.green(record.result)
      : record.result === 'interrupted'
        ? paint.yellow(record.result)
        : paint.red(record.result);
  const ms = record.steps.reduce((sum, step) => sum + step.ms, 0);
  const parts = [
    record.at,
    record.operation.padEnd(8),
    result + ' '.repeat(Math.max(0, 11 - record.result.length)),
    `${record.operator}@${record.localHost}`,
    what(record),
    ...(ms > 0 ? [paint.dim(formatDuration(ms))] : []),
  ].filter((part) => part !== '');
  const lines = [parts.join('  ')];
  if (record.error) lines.push(paint.dim(`    ${record.error.step}: ${record.error.message.split('\n')[0] ?? ''}`));
  return lines.join('\n');
}

function what(record: AuditRecord): string {
  switch (record.operation) {
    case 'lock':
      return `locked: ${JSON.stringify(record.message ?? '')}`;
    case 'unlock':
      return record.message === undefined ? 'removed the lock' : `removed the lock: ${JSON.stringify(record.message)}`;
    case 'exec':
      return `in ${record.from ?? '?'}: ${record.command ?? ''}`;
    case 'prune':
      return '';
    case 'restart':
      return record.to ?? '';
    default:
      return record.from === null ? (record.to ?? '') : `${record.from} → ${record.to ?? '?'}`;
  }
}
