import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdSkipReason } from '../harness/index.js';
import { createWorld, type World } from '../e2e/world.js';
import { runCli } from './cli-process.js';
import { runCell, tableHeader, tableRow, type Cell, type CellResult, type Fault } from './fault-cell.js';
import { summarizeSessionCalls } from '../e2e/session-client.js';
import { hostFacts, judge, killStrays, cliConfigFile } from './host-facts.js';

/**
 * The fault matrix: the real binary, killed (SIGKILL), interrupted (SIGINT, and again 100 ms
 * later) or cut off from its host (SSH sessions killed) at each checkpoint of a deploy and of a
 * rollback, with traffic flowing through nginx. After each fault: no request failed, nginx,
 * state.json and `current` agree with what runs (or, when the run died between the switch and
 * the state write, `status` says they disagree), no `.partial` is listed as a release, `status`
 * explains a lock left behind, and the next `mcp-deploy --yes` (with --force if a lock was left)
 * deploys cleanly, again without a failed request.
 *
 * Every step is covered over the local transport; over SSH a representative subset (connection
 * cut at upload, health, switch and drain). The table goes to test-results/fault-matrix.md;
 * `node scripts/fault-matrix.js` runs this file and copies it into docs/reliability.md.
 *
 * One point per step: the phase after which the step's work is visible on the host (or, for
 * upload, its start, so an interrupted upload leaves a `.partial`). The other phase of each step
 * is the same moment as a point already covered (upload:end = install:start, finalize:start =
 * verify:end, drain:start = finalize:end); between health:end and switch:start the exposure and
 * contract steps only read the host, and the keys step (API keys on) changes only the keys file,
 * which every later run rewrites, so health:end stands for them.
 * FAULT_MATRIX_ONLY=<regex> runs only the cells whose label matches (for debugging).
 */

const deployPoints = [
  'connect:end',
  'upload:start',
  'install:start',
  'start:end',
  'health:end',
  'switch:end',
  'verify:end',
  'finalize:end',
  'drain:end',
];
const rollbackPoints = ['connect:end', 'start:end', 'health:end', 'switch:end', 'verify:end', 'finalize:end', 'drain:end'];
/**
 * The session drain, with a client holding a session on the old colour so that the drain is
 * really waiting: broken at its start (the moment after the record, with the old colour still
 * serving its sessions; until the bound nothing on the host changes).
 */
const sessionPoints: { operation: Cell['operation']; fault: Fault }[] = [
  { operation: 'deploy', fault: 'exit' },
  { operation: 'deploy', fault: 'sigint' },
  { operation: 'rollback', fault: 'exit' },
];
const sshCuts = ['upload:start', 'health:start', 'switch:end', 'drain:start'];
/**
 * Points after the last check that looks at the interrupt (verify:end is the moment before the
 * new release is recorded, with every check passed): an interrupt there no longer rolls back, the
 * run completes with exit 0.
 */
const recorded = new Set(['verify:end', 'finalize:start', 'finalize:end', 'sessions:start', 'sessions:end', 'drain:start', 'drain:end']);
/** Points before the switch: whatever happens, the old release must still be what serves. */
const beforeSwitch = new Set(['connect:end', 'upload:start', 'install:start', 'start:end', 'health:start', 'health:end']);

const only = process.env['FAULT_MATRIX_ONLY'] ? new RegExp(process.env['FAULT_MATRIX_ONLY']) : null;
const results: CellResult[] = [];
const fileStarted = performance.now();
const sshSkip = await sshdSkipReason();

const labelOf = (cell: Cell) => `${cell.world} ${cell.operation} ${cell.point} ${cell.fault}${cell.session ? ' session' : ''}`;

function cells(world: 'local' | 'ssh'): Cell[] {
  if (world === 'ssh')
    return [
      ...sshCuts.map((point): Cell => ({ world, operation: 'deploy', point, fault: 'cut' })),
      { world, operation: 'deploy', point: 'sessions:start', fault: 'cut', session: true },
    ];
  const faults: Fault[] = ['exit', 'sigint'];
  return [
    ...deployPoints.flatMap((point) => faults.map((fault): Cell => ({ world, operation: 'deploy', point, fault }))),
    ...rollbackPoints.flatMap((point) => faults.map((fault): Cell => ({ world, operation: 'rollback', point, fault }))),
    ...sessionPoints.map(({ operation, fault }): Cell => ({ world, operation, point: 'sessions:start', fault, session: true })),
  ];
}

function assertCell(result: CellResult): void {
  const { cell, run } = result;
  const context = `${labelOf(cell)} (exit ${run.code}, signal ${run.signal}, ${run.ms} ms)\n--- CLI output ---\n${run.stdout}\n${run.stderr}`;
  expect(result.reached, `the fault did not happen at ${cell.point}: ${context}`).toBe(true);
  expect(run.timedOut, context).toBe(false);

  // Traffic through nginx never failed while the run was broken.
  expect(result.faultTraffic.failures, context).toEqual([]);
  expect(result.faultTraffic.sent).toBeGreaterThan(10);

  // What serves is recorded; a disagreement is only the documented one, and status explains it.
  expect(['consistent', 'nginx-ahead'], `${result.verdict.detail}\n${context}`).toContain(result.verdict.verdict);
  expect(result.status.code, result.status.stderr).toBe(0);
  if (result.verdict.verdict === 'nginx-ahead') expect(result.status.stdout).toContain('nginx and state.json disagree');
  const served = 'release' in result.after.serving ? result.after.serving.release : null;
  const old = typeof result.before.state === 'object' && result.before.state !== null ? result.before.state.release : null;
  if (beforeSwitch.has(cell.point)) expect(served, context).toBe(old);

  // A lock left behind is explained as stale; otherwise status says it is free.
  if (result.after.lock)
    expect(result.status.stdout).toMatch(/lock: held by .* stale \(holder process is gone\); break it with: mcp-deploy unlock --force/);
  else expect(result.status.stdout).toContain('lock: free');
  // A .partial upload is never a release.
  if (result.releasesJson !== null) {
    expect(result.releasesJson.code).toBe(0);
    const ids = (JSON.parse(result.releasesJson.stdout) as { releases: { id: string }[] }).releases.map((release) => release.id);
    expect(ids.filter((id) => id.startsWith('.') || id.includes('partial'))).toEqual([]);
  }

  if (cell.fault === 'exit') {
    expect(run.signal).toBe('SIGKILL');
    expect(result.after.lock).toBe(true);
  } else if (cell.fault === 'sigint') {
    // The second SIGINT never kills a run in progress. One that lands in the last few ms of the
    // process (Node's teardown, after the run ended and printed its result, when libuv has put
    // the default disposition back) does end it with the signal: an inherent race, accepted only
    // when the run's last line is already out.
    const teardownRace = run.signal === 'SIGINT' && /^(Done in|Failed after) /m.test(run.stdout);
    if (!teardownRace) {
      expect(run.signal, context).toBeNull();
      // Interrupted before the new release was recorded: rolled back, 130. After: it finishes, 0.
      expect(run.code, context).toBe(recorded.has(cell.point) ? 0 : 130);
    }
    expect(result.after.lock, context).toBe(false);
    expect(result.verdict.verdict, context).toBe('consistent');
    if (!recorded.has(cell.point)) expect(served, context).toBe(old);
    else expect(served, context).not.toBe(old);
  } else {
    expect(result.cutSessions ?? 0).toBeGreaterThan(0);
    // A lost connection is exit 3 (unreachable), or 1 when a rollback was attempted.
    expect([1, 3], context).toContain(run.code);
    expect(run.stdout + run.stderr).toMatch(/connection .*(lost|closed)|Connection lost|was lost/i);
  }

  // A held session never fails while its colour lives: its only misses are the 404s nginx
  // gives once a colour is retired, each followed by a new session that works.
  if (result.session !== null) {
    const context = `${labelOf(cell)}: ${JSON.stringify(summarizeSessionCalls(result.session))} ${result.session.failures.join('; ')}`;
    expect(result.session.failures, context).toEqual([]);
    // Two retirements of its colour: the broken run's old colour (by the broken run, or by the
    // next run before it takes that colour's port), then the next run's own old colour.
    expect(summarizeSessionCalls(result.session).notFound, context).toBe(2);
    expect(result.session.calls.at(-1)?.outcome, context).toBe('ok');
    expect(result.session.sessions, context).toHaveLength(3);
  }

  assertFollowUp(result, old);
}

/** The next deploy goes through cleanly and leaves a consistent host. */
function assertFollowUp(result: CellResult, old: string | null): void {
  const { cell } = result;
  const followContext = `follow-up of ${labelOf(cell)}\n${result.followUp.stdout}\n${result.followUp.stderr}`;
  expect(result.followUp.code, followContext).toBe(0);
  expect(result.finalVerdict.verdict, `${result.finalVerdict.detail}\n${followContext}`).toBe('consistent');
  expect(result.final.lock).toBe(false);
  expect(result.followUpTraffic.failures, followContext).toEqual([]);
  const finalState = result.final.state;
  if (typeof finalState === 'object' && finalState !== null) {
    expect(finalState.release).not.toBe(old);
    // Drained: the other colour is stopped.
    expect(result.final.running[finalState.colour === 'blue' ? 'green' : 'blue']).toBe(false);
  }
}

function matrixSuite(kind: 'local' | 'ssh', skipReason: string | undefined) {
  describe.skipIf(skipReason !== undefined)(`fault matrix over ${kind}${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
    let world: World;
    let configFile: string;

    beforeAll(async () => {
      world = await createWorld({ transport: kind });
      configFile = cliConfigFile(world, 'matrix');
      // Two releases, so a rollback has somewhere to go.
      for (const note of ['v1', 'v2']) {
        world.editServer((text) => `${text}\n# ${note}\n`);
        const first = await runCli(['--yes', '--skip-validate', '--config', configFile]);
        expect(first.code, first.stdout + first.stderr).toBe(0);
      }
      expect(judge(await hostFacts(world)).verdict).toBe('consistent');
    }, 120_000);

    afterAll(async () => {
      if (world) killStrays(world);
      await world?.stop();
    });

    for (const cell of cells(kind)) {
      const label = labelOf(cell);
      it.skipIf(only !== null && !only.test(label))(
        label,
        async () => {
          const result = await runCell(world, configFile, cell, label);
          results.push(result);
          if (process.env['FAULT_MATRIX_DEBUG']) {
            console.log(
              `=== ${label}\n--- run ---\n${result.run.stdout}${result.run.stderr}\n--- status ---\n${result.status.stdout}\n--- follow-up ---\n${result.followUp.stdout}${result.followUp.stderr}`,
            );
          }
          assertCell(result);
        },
        300_000,
      );
    }
  });
}

matrixSuite('local', undefined);
matrixSuite('ssh', sshSkip);

afterAll(() => {
  if (results.length === 0) return;
  const minutes = ((performance.now() - fileStarted) / 60_000).toFixed(1);
  const lines = [
    `<!-- written by test/reliability/fault-matrix.test.ts on ${new Date().toISOString()}: ${results.length} cells in ${minutes} min -->`,
    ...tableHeader,
    ...results.map(tableRow),
    '',
  ];
  mkdirSync('test-results', { recursive: true });
  writeFileSync('test-results/fault-matrix.md', `${lines.join('\n')}\n`);
  writeFileSync(
    'test-results/fault-matrix.json',
    `${JSON.stringify(
      results.map((result) => ({
        ...result.cell,
        ms: result.ms,
        exit: result.run.code,
        signal: result.run.signal,
        verdict: result.verdict,
        finalVerdict: result.finalVerdict,
        faultTraffic: { ...result.faultTraffic, latenciesMs: undefined },
        followUpTraffic: { ...result.followUpTraffic, latenciesMs: undefined },
      })),
      null,
      2,
    )}\n`,
  );
});
