import type { Rollout } from '../../config/fleet.js';

/**
 * The order a release reaches the hosts in: the canary alone first (rollout.canary, else the
 * first host), then the others in batches of rollout.batchSize (a number, or a percentage of the
 * whole fleet rounded up), in the config's order. One host is one batch.
 */
export function planBatches(hosts: readonly string[], rollout: Pick<Rollout, 'canary' | 'batchSize'>): string[][] {
  if (hosts.length === 0) return [];
  const canary = rollout.canary !== undefined && hosts.includes(rollout.canary) ? rollout.canary : hosts[0]!;
  const rest = hosts.filter((host) => host !== canary);
  const size = batchSizeOf(rollout.batchSize, hosts.length);
  const batches = [[canary]];
  for (let index = 0; index < rest.length; index += size) batches.push(rest.slice(index, index + size));
  return batches;
}

export function batchSizeOf(batchSize: Rollout['batchSize'], fleetSize: number): number {
  if (typeof batchSize === 'number') return batchSize;
  const percent = Number.parseInt(batchSize, 10);
  return Math.max(1, Math.ceil((fleetSize * percent) / 100));
}
