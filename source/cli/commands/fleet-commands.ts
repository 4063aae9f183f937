import type { FleetHost } from '../../config/fleet.js';
import { fleetDocument, forEachHost, type HostOutcome, summarizeHosts } from '../fleet-fan-out.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { importOwningSignals } from '../own-signals.js';

/**
 * The fleet forms of the commands that read or tend hosts: each runs the one-host command on every
 * host (lines prefixed with the host), then one JSON document of them all, or a line per host.
 */
export async function onEveryHost<O extends GlobalOptions>(
  hosts: readonly FleetHost[],
  options: O,
  output: Output,
  what: string,
  command: (options: O, output: Output) => Promise<number>,
  how: { readonly parallel?: boolean; readonly ask?: boolean } = {},
): Promise<number> {
  const outcomes = await forEachHost(
    hosts,
    options,
    output,
    (hostOptions, hostOutput) => command({ ...options, ...hostOptions }, hostOutput),
    how,
  );
  if (output.json && !how.parallel) output.document(fleetDocument(outcomes));
  return summarizeHosts(output, what, outcomes);
}

type ReleaseRow = { readonly id: string; readonly active: boolean; readonly failed: unknown; readonly createdAt: string | null };

/**
 * `releases` on a fleet: every release any host has, newest first, a column per host (● active,
 * ○ present, ✖ failed, · missing), and the releases whose marks differ between hosts flagged.
 */
export async function fleetReleases(
  hosts: readonly FleetHost[],
  options: GlobalOptions,
  output: Output,
  command: (options: GlobalOptions, output: Output) => Promise<number>,
  face: 'app' | 'plain' = 'plain',
): Promise<number> {
  const outcomes = await forEachHost(hosts, options, output, command, { capture: true });
  const table = releasesTable(outcomes);
  if (face === 'app') {
    const { renderFleetReleases } = await importOwningSignals(() => import('../../ui/render-fleet.js'));
    return renderFleetReleases(
      {
        hosts: outcomes.map((outcome) => outcome.host),
        rows: table.rows,
        unreadable: outcomes.filter((outcome) => outcome.code !== 0).map((outcome) => outcome.host),
      },
      { color: output.color },
    );
  }
  if (output.json) {
    output.document({ ...fleetDocument(outcomes), releases: table.rows, differs: table.differs });
    return outcomes.find((outcome) => outcome.code !== 0)?.code ?? 0;
  }
  const { paint } = output;
  const names = outcomes.map((outcome) => outcome.host);
  output.line(paint.bold(`${''.padEnd(30)}${names.map((name) => name.padEnd(8)).join(' ')}`));
  for (const row of table.rows) {
    const cells = names.map((name) => (row.hosts[name] ?? '·').padEnd(8)).join(' ');
    output.line(`${row.differs ? paint.yellow('!') : ' '} ${row.id.padEnd(28)}${cells}`);
  }
  for (const outcome of outcomes)
    if (outcome.code !== 0) output.line(paint.red(`✖ ${outcome.host}: could not be read (exit ${outcome.code})`));
  output.line(
    table.differs.length === 0
      ? paint.green('Every host has the same releases and serves the same one.')
      : paint.yellow(`! The hosts differ on ${table.differs.length} release(s) (marked !): ● active, ○ present, ✖ failed, · missing.`),
  );
  return outcomes.find((outcome) => outcome.code !== 0)?.code ?? 0;
}

function releasesTable(outcomes: readonly HostOutcome[]) {
  const byId = new Map<string, { id: string; createdAt: string | null; hosts: Record<string, string> }>();
  for (const outcome of outcomes) {
    const releases = (outcome.document as { releases?: ReleaseRow[] } | null)?.releases ?? [];
    for (const release of releases) {
      const row = byId.get(release.id) ?? { id: release.id, createdAt: release.createdAt, hosts: {} };
      row.hosts[outcome.host] = release.active ? '●' : release.failed ? '✖' : '○';
      byId.set(release.id, row);
    }
  }
  const readable = outcomes.filter((outcome) => outcome.code === 0).map((outcome) => outcome.host);
  const rows = [...byId.values()]
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    .map((row) => ({ ...row, differs: new Set(readable.map((host) => row.hosts[host] ?? '·')).size > 1 }));
  return { rows, differs: rows.filter((row) => row.differs).map((row) => row.id) };
}
