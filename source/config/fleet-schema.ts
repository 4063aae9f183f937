import { z } from 'zod';
import { hostCommand, nonEmpty, port } from './schema-parts.js';

/**
 * The fleet keys of a target (docs/config.md#fleets): `hosts`, the machines one deploy rolls a
 * release across, and `rollout`, how. A target without `hosts` is one host, as it always was.
 */

/** How a host is named in output, `--host` and `rollout.canary`. */
export const hostName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, 'expected letters, digits, ".", ":", "-" or "_"');

/**
 * One host of a fleet: where it is, and what differs from the target there. Everything not given
 * is the target's. `path` and `nginx` are for hosts laid out unlike the others.
 */
export const fleetHost = z.strictObject({
  /** Default: `host`, or `host:port` when several entries share a host. */
  name: hostName.optional(),
  host: nonEmpty,
  port: port.optional(),
  user: nonEmpty.optional(),
  identityFile: nonEmpty.optional(),
  knownHosts: nonEmpty.optional(),
  path: nonEmpty.startsWith('/', 'must be an absolute path on the host').optional(),
  ports: z.strictObject({ blue: port, green: port }).optional(),
  publicUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  nginx: z
    .strictObject({
      upstreamFile: nonEmpty.optional(),
      locationFile: nonEmpty.optional(),
      sessionLog: nonEmpty.optional(),
      upstream: z
        .string()
        .regex(/^[A-Za-z0-9_]+$/, 'expected letters, digits and "_" (an nginx upstream name)')
        .optional(),
      test: hostCommand.optional(),
      reload: hostCommand.optional(),
      errorLog: nonEmpty.optional(),
      pidFile: nonEmpty.optional(),
      timeoutSeconds: z.number().positive().max(3600).optional(),
    })
    .optional(),
});

/** `10` hosts, or `25%` of the fleet (rounded up, at least one). */
const batchSize = z.union([
  z.number().int().min(1, 'expected at least 1 host'),
  z.string().regex(/^(100|[1-9][0-9]?)%$/, 'expected a number of hosts or a percentage such as "25%"'),
]);

export const rollout = z.strictObject({
  /** The host that goes first, alone, through the whole cutover (and the watch window); default: the first host. */
  canary: hostName.optional(),
  batchSize: batchSize.default(1),
  /** Seconds between batches. */
  pauseSeconds: z.number().min(0).max(86_400).default(0),
  /** `rollback`: the hosts already switched go back, so the fleet serves one release; `halt`: they stay. */
  onFailure: z.enum(['rollback', 'halt']).default('rollback'),
  /** SSH connections opened at once (and uploads run at once). */
  maxConnections: z.number().int().min(1).max(256).default(10),
});

export const rolloutDefaults = { batchSize: 1, pauseSeconds: 0, onFailure: 'rollback', maxConnections: 10 } as const;

export type FleetHostConfig = z.output<typeof fleetHost>;
export type RolloutConfig = z.output<typeof rollout>;
