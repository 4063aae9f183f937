import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createWorld, type World } from '../test/e2e/world.js';
import { formatZeroDowntime, measureZeroDowntime } from '../test/e2e/zero-downtime.js';

/**
 * The long form: 20 deploys and 20 rollbacks alternate under steady load and long-lived requests,
 * with a cohort of MCP sessions held through them, over SSH when sshd can run here
 * (BENCH_TRANSPORT=local to force the local transport). Reports requests, failures and p50/p99
 * before, during and after the cutovers, and the sessions' calls, failures and 404s.
 */
const cycles = Number(process.env['BENCH_CYCLES'] ?? 20);
/** BENCH_SITE=single-upstream: a site that does not pin sessions, for comparison (sessions then fail by design). */
const site = process.env['BENCH_SITE'] === 'single-upstream' ? 'single-upstream' : 'pinned';
/** BENCH_RTT=40: the host that many ms away (SSH and the clients through latency relays; SSH only). */
const rttMs = process.env['BENCH_RTT'] ? Number(process.env['BENCH_RTT']) : undefined;
let world: World;
beforeAll(async () => {
  world = await createWorld({ transport: process.env['BENCH_TRANSPORT'] === 'local' ? 'local' : 'ssh', site });
}, 120_000);
afterAll(async () => world?.stop());

it(`zero downtime: ${cycles} deploys + ${cycles} rollbacks under load${rttMs === undefined ? '' : `, ${rttMs} ms away`}`, async () => {
  const report = await measureZeroDowntime(world, { cycles, slowMs: 1500, warmupMs: 3_000, ...(rttMs === undefined ? {} : { rttMs }) });
  const text = formatZeroDowntime(report);
  console.log(`\n${text}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    `bench/results/zero-downtime${site === 'pinned' ? '' : `-${site}`}${rttMs === undefined ? '' : `-${rttMs}ms`}.md`,
    `${text}\n`,
  );
  expect(report.traffic.failed + report.slow.failed).toBe(0);
  if (site === 'pinned')
    expect(report.sessions.withinBound.failed + report.sessions.withinBound.notFound + report.sessions.heldThrough.failed).toBe(0);
}, 3_600_000);
