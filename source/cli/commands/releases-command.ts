import { describeSummary, summarizeContract } from '../../contract/contract.js';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { fleetReleases } from './fleet-commands.js';
import { readReleases } from '../../engine/inspect.js';
import { formatAge, formatBytes } from '../../run/format.js';
import { runApp } from '../app-bridge.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { chooseFace } from '../terminal.js';
import { withHost } from '../with-host.js';

/** `mcp-deploy releases [--json]`: the releases browser in a terminal, a table otherwise. */
export async function releasesCommand(options: GlobalOptions, output: Output): Promise<number> {
  const hosts = fleetHostsFor(options);
  if (hosts !== null)
    return fleetReleases(hosts, options, output, releasesCommand, chooseFace({ yes: options.yes ?? false, json: options.json ?? false }));
  if (chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app') return runApp('releases', options, output);
  return withHost(options, output, async (context, transport) => {
    const { rows, malformedAuditLines } = await readReleases(context, transport);
    if (output.json) {
      // Each release's contract as its summary (counts, era): the whole of it is one `mcp-deploy diff` away.
      const listed = rows.map((row) => ({ ...row, contract: row.contract === null ? null : summarizeContract(row.contract) }));
      output.document({ target: context.target.name, releases: listed });
      return 0;
    }
    const { paint } = output;
    if (rows.length === 0) output.line(`No releases on ${transport.label} yet.`);
    const now = Date.now() / 1000;
    for (const row of rows) {
      const marks = [
        row.active ? paint.green('active') : '',
        row.previous ? paint.cyan('previous') : '',
        row.failed ? paint.red('failed') : '',
      ]
        .filter(Boolean)
        .join(',');
      const age = row.createdAt ? formatAge(now - Date.parse(row.createdAt) / 1000) : '?';
      const size = row.sizeBytes === null ? '?' : formatBytes(row.sizeBytes);
      output.line(
        `${row.active ? '●' : ' '} ${row.id.padEnd(28)} ${marks.padEnd(16)} ${age.padStart(6)} ${size.padStart(8)}  ${row.lastResult ?? '-'}  ${row.deployedBy ?? '-'}  ${row.contract ? describeSummary(summarizeContract(row.contract)) : row.tools ? row.tools.join(',') : ''}`,
      );
      if (row.failed) output.line(paint.dim(`      failed at ${row.failed.step}: ${row.failed.message}`));
    }
    if (malformedAuditLines > 0) {
      output.line(paint.yellow(`! audit.log has ${malformedAuditLines} line(s) that could not be read; they were left as they are.`));
    }
    return 0;
  });
}
