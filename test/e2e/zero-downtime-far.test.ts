import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdSkipReason } from '../harness/index.js';
import { createWorld, type World } from './world.js';
import { formatZeroDowntime, measureZeroDowntime } from './zero-downtime.js';

/**
 * Zero downtime for a host across the internet, not only on loopback: the short form's traffic
 * and sessions, over SSH, with SSH and the public URL both 40 ms away (latency relays). What a
 * far host stretches: the reload's settle before verify looks, the drain, the session bound
 * against the clients' own round trips, health polls through a slow tunnel.
 */
const skip = await sshdSkipReason();

describe.skipIf(skip !== undefined)('zero downtime with the host 40 ms away (SSH and clients through latency relays)', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
  }, 120_000);
  afterAll(async () => world?.stop());

  it('a deploy and a rollback: no request fails, sessions that end within the bound see no 404, the held one one per retirement', async () => {
    const report = await measureZeroDowntime(world, { cycles: 1, slowMs: 800, rttMs: 40 });
    console.log(formatZeroDowntime(report));
    expect(report.traffic.failures).toEqual([]);
    expect(report.slow.failures).toEqual([]);
    expect(report.phases.during.count).toBeGreaterThan(20);
    expect(report.slow.sent).toBeGreaterThan(2);
    // The deploy and every client really went the long way: both relays carried their bytes.
    expect(report.relayed?.ssh).toBeGreaterThan(100_000);
    expect(report.relayed?.web).toBeGreaterThan(100_000);
    const { withinBound, heldThrough } = report.sessions;
    expect(withinBound.failures).toEqual([]);
    expect(withinBound.notFound).toBe(0);
    expect(withinBound.sessions).toBeGreaterThan(2);
    expect(heldThrough.failures).toEqual([]);
    expect(heldThrough.notFound).toBe(report.cutovers);
  }, 300_000);
});
