import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, type World } from './world.js';
import { formatZeroDowntime, measureZeroDowntime } from './zero-downtime.js';

/** The short form of the zero-downtime measurement (bench/zero-downtime.bench.test.ts is the long one). */
describe('zero downtime under load (short form)', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
  }, 60_000);
  afterAll(async () => world?.stop());

  it('3 deploys and 3 rollbacks with steady and long-lived traffic: no request fails', async () => {
    const report = await measureZeroDowntime(world, { cycles: 3, slowMs: 800 });
    console.log(formatZeroDowntime(report));
    expect(report.traffic.failures).toEqual([]);
    expect(report.slow.failures).toEqual([]);
    expect(report.phases.during.count).toBeGreaterThan(50);
    expect(report.slow.sent).toBeGreaterThan(5);
  }, 300_000);
});
