import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploy } from '../source/engine/deploy.js';
import { reloadSettleMs } from '../source/engine/drain.js';
import { connectSsh } from '../source/remote/connect.js';
import { settledLine } from '../source/engine/nginx-settle.js';
import type { Transport } from '../source/remote/transport.js';
import type { StepId } from '../source/run/step-ids.js';
import { createWorld, type World } from '../test/e2e/world.js';
import { startLatencyRelay, type LatencyRelay } from '../test/harness/index.js';

/**
 * Where a whole deploy's time goes when the host is far away: the example server deployed over
 * SSH through the latency relay (and its public URL through a second relay in front of nginx),
 * one changed file, at each RTT. Per step: wall time, the remote commands it sent (run, stream,
 * file reads and writes, tunnels) and the round trips the relays saw while it ran.
 *
 *   npm run bench        (BENCH_RTTS=0,40,100)
 */
const rtts = (process.env['BENCH_RTTS'] ?? '0,40,100').split(',').map(Number);

let world: World;
let sshRelay: LatencyRelay;
let webRelay: LatencyRelay;
let knownHosts: string;

beforeAll(async () => {
  world = await createWorld({ transport: 'ssh' });
  sshRelay = await startLatencyRelay(world.sshd!.port);
  webRelay = await startLatencyRelay(world.nginx.port);
  knownHosts = join(world.project, '..', 'relay_known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${sshRelay.port} ${world.sshd!.hostPublicKey}\n`);
}, 120_000);

afterAll(async () => {
  await sshRelay?.close();
  await webRelay?.close();
  await world?.stop();
});

/** BENCH_TRACE=FILE appends every remote call to FILE with the step it belongs to (where the round trips go). */
const trace = process.env['BENCH_TRACE'];

function describeCall(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === 'string') return first;
  if (typeof first === 'number') return `tunnel to ${first}`;
  if (Array.isArray(first)) return first.join(' ');
  if (first !== null && typeof first === 'object' && 'script' in first) return String((first as { script: string }).script);
  return String(first);
}

type StepFigures = { step: StepId; ms: number; commands: number; roundTrips: number };

/** Counts the remote calls a step makes, by wrapping the one transport of the run. */
function counted(transport: Transport, current: () => StepId | null, commands: Map<StepId, number>): Transport {
  const count = (what: string) => {
    const step = current();
    if (step !== null) commands.set(step, (commands.get(step) ?? 0) + 1);
    if (trace !== undefined)
      appendFileSync(trace, `${Math.round(performance.now())} [${step ?? '-'}] ${what.replaceAll('\n', ' ').slice(0, 200)}\n`);
  };
  const counting =
    <A extends unknown[], R>(kind: string, call: (...args: A) => R) =>
    (...args: A): R => {
      count(`${kind} ${describeCall(args)}`);
      return call(...args);
    };
  return {
    label: transport.label,
    run: counting('run', (command, options) => transport.run(command, options)),
    stream: counting('stream', (command, options) => transport.stream(command, options)),
    readFile: counting('readFile', (path) => transport.readFile(path)),
    writeFileAtomic: counting('writeFileAtomic', (path, data, mode) => transport.writeFileAtomic(path, data, mode)),
    openTunnel: counting('openTunnel', (port) => transport.openTunnel(port)),
    close: () => transport.close(),
  };
}

async function measuredDeploy(note: string): Promise<{ total: number; steps: StepFigures[]; settled: boolean }> {
  world.editServer((text) => `${text}\n# ${note}\n`);
  const config = world.config({}, { port: sshRelay.port, knownHosts, publicUrl: `http://127.0.0.1:${webRelay.port}` });
  const made = world.context({ config });
  const sshd = world.sshd!;
  let current: StepId | null = null;
  const commands = new Map<StepId, number>();
  const connect = async () =>
    counted(
      await connectSsh({
        host: sshd.host,
        port: sshRelay.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        knownHostsFile: knownHosts,
      }),
      () => current,
      commands,
    );
  const trips = () => sshRelay.counters().roundTrips + webRelay.counters().roundTrips;
  const steps: StepFigures[] = [];
  let startTrips = 0;
  let settled = false;
  made.context.bus.on((event) => {
    if (event.kind === 'log' && current === 'switch' && event.line.startsWith(settledLine)) settled = true;
    if (trace !== undefined && (event.kind === 'step:start' || event.kind === 'step:done'))
      appendFileSync(trace, `${Math.round(performance.now())} ${event.kind} ${event.step}\n`);
    if (event.kind === 'step:start') {
      current = event.step;
      startTrips = trips();
    } else if (event.kind === 'step:done') {
      steps.push({ step: event.step, ms: event.ms, commands: commands.get(event.step) ?? 0, roundTrips: trips() - startTrips });
      current = null;
    }
  });
  const started = performance.now();
  const summary = await deploy({ ...made.context, connect }, { skipValidate: true });
  const total = performance.now() - started;
  expect(summary.error).toBeUndefined();
  return { total, steps, settled };
}

it('a whole deploy by step at each RTT', async () => {
  // A first deploy, so that every measured one has a release to replace (and its venv).
  await measuredDeploy('first');
  const runs: { rtt: number; total: number; steps: StepFigures[]; settled: boolean }[] = [];
  for (const rtt of rtts) {
    sshRelay.rttMs = rtt;
    webRelay.rttMs = rtt;
    runs.push({ rtt, ...(await measuredDeploy(`at ${rtt} ms`)) });
  }
  const stepIds = [...new Set(runs.flatMap((run) => run.steps.map((step) => step.step)))];
  const cell = (run: (typeof runs)[number], step: StepId) => {
    const figures = run.steps.find((candidate) => candidate.step === step);
    return figures === undefined ? '—' : `${figures.ms} ms · ${figures.commands} cmd · ${figures.roundTrips} RT`;
  };
  const loopback = runs.find((run) => run.rtt === 0);
  // The drain waits drainSeconds, and at least until nginx's old workers stop accepting: when the
  // switch saw them stop on the host (nginx-settle.ts) that is over by then, else reloadSettleMs.
  const drainSeconds = world.config().drainSeconds * 1000;
  const floorOf = (run: (typeof runs)[number]) => (run.settled ? drainSeconds : Math.max(drainSeconds, reloadSettleMs));
  const serverStartup =
    loopback === undefined ? 0 : loopback.steps.filter((s) => s.step === 'start' || s.step === 'health').reduce((sum, s) => sum + s.ms, 0);
  const lines = [
    `| step | ${runs.map((run) => `${run.rtt} ms RTT`).join(' | ')} |`,
    `| --- | ${runs.map(() => '---').join(' | ')} |`,
    ...stepIds.map((step) => `| ${step} | ${runs.map((run) => cell(run, step)).join(' | ')} |`),
    `| **whole deploy** | ${runs
      .map(
        (run) =>
          `**${(run.total / 1000).toFixed(2)} s** · ${run.steps.reduce((sum, s) => sum + s.commands, 0)} cmd · ${run.steps.reduce((sum, s) => sum + s.roundTrips, 0)} RT`,
      )
      .join(' | ')} |`,
    `| nginx's old workers seen to stop on the host (else verify and the drain wait ${reloadSettleMs / 1000} s) | ${runs.map((run) => (run.settled ? 'yes' : 'no')).join(' | ')} |`,
    `| without the drain floor and the server's start-up (start + health at 0 ms: ${serverStartup} ms) | ${runs
      .map((run) => `${((run.total - floorOf(run) - serverStartup) / 1000).toFixed(2)} s (floor ${floorOf(run) / 1000} s)`)
      .join(' | ')} |`,
  ];
  const text = lines.join('\n');
  console.log(`\na whole deploy by step (${new Date().toISOString()})\n${text}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/deploy-latency.md', `${text}\n`);
}, 1_800_000);
