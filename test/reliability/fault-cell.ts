import { runCli, settle, startCli, type CliEnd } from './cli-process.js';
import { hostFacts, judge, killStrays, type HostFacts } from './host-facts.js';
import { startTraffic, type TrafficReport } from '../e2e/traffic.js';
import { holdSession, summarizeSessionCalls, type SessionClientReport } from '../e2e/session-client.js';
import type { World } from '../e2e/world.js';

/**
 * One cell of the fault matrix: run `mcp-deploy` (a deploy or a rollback) with a fault at one
 * checkpoint while a bounded traffic loop goes through nginx, then look at the host, ask
 * `mcp-deploy status` about it, and deploy again. Everything observed is returned; the test
 * asserts on it and the table is written from it.
 */

export type Fault = 'exit' | 'sigint' | 'cut';

export type Cell = {
  readonly world: 'local' | 'ssh';
  readonly operation: 'deploy' | 'rollback';
  /** `<step>:<start|end>`, a checkpoint of the engine. */
  readonly point: string;
  readonly fault: Fault;
  /** A client holds one MCP session through the run and the next one (for the session-drain points). */
  readonly session?: boolean;
};

export type CellResult = {
  readonly cell: Cell;
  readonly before: HostFacts;
  readonly run: CliEnd;
  /** The fault happened where asked (the marker or the kill was seen). */
  readonly reached: boolean;
  /** For `sigint`: whether the second SIGINT, 100 ms after the first, reached a still running CLI. */
  readonly secondSigint: 'sent' | 'process already ended' | null;
  /** For `cut`: how many sshd session processes were killed. */
  readonly cutSessions: number | null;
  readonly faultTraffic: TrafficReport;
  /** What the session-holding client saw, from before the run to after the next one. */
  readonly session: SessionClientReport | null;
  readonly after: HostFacts;
  readonly verdict: ReturnType<typeof judge>;
  readonly status: CliEnd;
  readonly releasesJson: CliEnd | null;
  readonly followUp: CliEnd;
  readonly followUpForced: boolean;
  readonly followUpTraffic: TrafficReport;
  readonly final: HostFacts;
  readonly finalVerdict: ReturnType<typeof judge>;
  readonly strays: number;
  readonly ms: number;
};

export async function runCell(world: World, configFile: string, cell: Cell, label: string): Promise<CellResult> {
  const started = performance.now();
  const before = await hostFacts(world);
  world.editServer((text) => `${text}\n# ${label}\n`);
  const args =
    cell.operation === 'deploy' ? ['--yes', '--skip-validate', '--config', configFile] : ['rollback', '--yes', '--config', configFile];
  const fault = `${cell.point}:${cell.fault === 'cut' ? 'pause' : cell.fault}`;

  const traffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 50_000, maxMs: 150_000 });
  const holder = cell.session
    ? await holdSession(`${world.publicUrl}/mcp`, { tool: 'list_concepts', intervalMs: 50, maxMs: 300_000 })
    : null;
  await holder?.waitCalls(3);
  let secondSigint: CellResult['secondSigint'] = null;
  let cutSessions: number | null = null;
  let reached = false;
  let run: CliEnd;
  let faultTraffic: TrafficReport;
  try {
    const cli = startCli(args, { fault, timeoutMs: 150_000 });
    if (cell.fault === 'sigint') {
      // The fault sends the first SIGINT itself; the second comes from outside, as an impatient
      // operator's would, 100 ms later.
      reached = await cli.waitForOutput(/SIGINT: stopping safely/, 90_000).then(
        () => true,
        () => false,
      );
      if (reached) {
        await settle(100);
        secondSigint = cli.signal('SIGINT') ? 'sent' : 'process already ended';
      }
    } else if (cell.fault === 'cut') {
      reached = await cli.waitForOutput(/FAULT-PAUSE /, 90_000).then(
        () => true,
        () => false,
      );
      if (reached) {
        if (world.sshd === null) throw new Error('a connection cut needs the SSH world');
        cutSessions = world.sshd.killSessions().length;
        await settle(200);
        cli.signal('SIGUSR2');
      }
    }
    run = await cli.ended;
    if (cell.fault === 'exit') reached = run.signal === 'SIGKILL' && !run.timedOut;
    // nginx and the servers settle (a reload in flight, sessions being torn down) under traffic.
    await settle(500);
  } finally {
    // stopped in every case, so a failing cell never leaves the loop running
    faultTraffic = await traffic.stop();
  }
  const after = await hostFacts(world);
  const verdict = judge(after);
  const status = await runCli(['status', '--config', configFile], { timeoutMs: 60_000 });
  const releasesJson =
    after.partials.length > 0 ? await runCli(['releases', '--json', '--config', configFile], { timeoutMs: 60_000 }) : null;

  const followUpForced = after.lock;
  world.editServer((text) => `${text}\n# ${label} follow-up\n`);
  const followTraffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 50_000, maxMs: 150_000 });
  let followUp: CliEnd;
  let followUpTraffic: TrafficReport;
  try {
    followUp = await runCli(['--yes', '--skip-validate', ...(followUpForced ? ['--force'] : []), '--config', configFile], {
      timeoutMs: 150_000,
    });
  } finally {
    followUpTraffic = await followTraffic.stop();
  }
  const session = holder === null ? null : await holder.waitCalls(3).then(() => holder.stop());
  const final = await hostFacts(world);
  const strays = killStrays(world).length;
  return {
    cell,
    before,
    run,
    reached,
    secondSigint,
    cutSessions,
    faultTraffic,
    session,
    after,
    verdict,
    status,
    releasesJson,
    followUp,
    followUpForced,
    followUpTraffic,
    final,
    finalVerdict: judge(final),
    strays,
    ms: Math.round(performance.now() - started),
  };
}

/** The release a line of the table calls "old", "new" or by name. */
function servingWord(result: CellResult): string {
  const served = 'release' in result.after.serving ? result.after.serving.release : null;
  if (served === null) return '**nothing**';
  const before = result.before.state;
  const old = typeof before === 'object' && before !== null ? before.release : null;
  if (served === old) return 'old';
  return result.cell.operation === 'rollback' ? 'rollback target' : 'new';
}

function ended(run: CliEnd): string {
  if (run.timedOut) return '**timed out**';
  return run.signal !== null ? `killed (${run.signal})` : `exit ${run.code}`;
}

function secondInterrupt(result: CellResult): string {
  if (result.secondSigint === null) return '';
  if (result.secondSigint === 'process already ended') return ' (ended before the 2nd SIGINT)';
  return result.run.signal === 'SIGINT' ? " (2nd SIGINT hit Node's exit teardown)" : ' (2nd SIGINT: outcome unchanged)';
}

function requests(report: TrafficReport): string {
  return `${report.sent} sent, ${report.failed} failed${report.retried > 0 ? `, ${report.retried} retried` : ''}`;
}

function sessionCalls(report: SessionClientReport | null): string {
  if (report === null) return '';
  const { ok, notFound, failed } = summarizeSessionCalls(report);
  return `; a held session: ${ok + notFound + failed} calls, ${failed} failed, ${notFound} × 404 (one per retirement of its colour)`;
}

export function tableRow(result: CellResult): string {
  const { cell } = result;
  const fault = cell.fault === 'exit' ? 'SIGKILL' : cell.fault === 'sigint' ? 'SIGINT ×2' : 'SSH cut';
  const records =
    result.verdict.verdict === 'consistent'
      ? 'agree'
      : result.verdict.verdict === 'nginx-ahead'
        ? 'nginx ahead of state.json (status says so)'
        : `**${result.verdict.detail}**`;
  const lock = result.after.lock
    ? /stale \(holder process is gone\)/.test(result.status.stdout)
      ? 'left, stale (status says so)'
      : '**left, not explained**'
    : 'released';
  const partial = result.after.partials.length > 0 ? `; ${result.after.partials.length} .partial (not listed)` : '';
  const state = result.after.state;
  const idle = typeof state === 'object' && state !== null ? (state.colour === 'blue' ? 'green' : 'blue') : null;
  const leftover =
    result.verdict.verdict === 'consistent' && idle !== null && result.after.running[idle]
      ? result.cell.session
        ? `; ${idle} left running, still serving its sessions (the next run retires it)`
        : `; ${idle} left running (the next run stops it)`
      : '';
  const follow =
    result.followUp.code === 0 && result.finalVerdict.verdict === 'consistent'
      ? `ok${result.followUpForced ? ' (--force)' : ''}, ${requests(result.followUpTraffic)}`
      : `**${ended(result.followUp)}; ${result.finalVerdict.detail}**`;
  return `| ${cell.world} | ${cell.operation} | ${cell.point} | ${fault} | ${ended(result.run)}${secondInterrupt(result)} | ${requests(result.faultTraffic)}${sessionCalls(result.session)} | ${servingWord(result)}; ${records}${leftover}${partial} | ${lock} | ${follow} |`;
}

export const tableHeader = [
  '| world | run | fault at | fault | CLI ended | traffic during the fault | after: serving; records | lock | next `mcp-deploy --yes` |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
