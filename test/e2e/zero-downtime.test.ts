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

  it('2 deploys and 2 rollbacks with steady and long-lived traffic and held MCP sessions: no request fails, no session ending within the bound sees a 404', async () => {
    const report = await measureZeroDowntime(world, { cycles: 2, slowMs: 800 });
    console.log(formatZeroDowntime(report));
    expect(report.traffic.failures).toEqual([]);
    expect(report.slow.failures).toEqual([]);
    expect(report.phases.during.count).toBeGreaterThan(50);
    expect(report.slow.sent).toBeGreaterThan(5);
    const { withinBound, heldThrough } = report.sessions;
    expect(withinBound.failures).toEqual([]);
    expect(withinBound.notFound).toBe(0);
    expect(withinBound.sessions).toBeGreaterThan(6);
    // The session held through everything: never a failed call, one 404 per retirement of its colour
    expect(heldThrough.failures).toEqual([]);
    expect(heldThrough.notFound).toBe(report.cutovers);
    expect(heldThrough.sessions).toBe(report.cutovers + 1);
  }, 300_000);
});
