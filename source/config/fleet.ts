import { DeployError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { type FleetHostConfig, type RolloutConfig, rolloutDefaults } from './fleet-schema.js';

/** One host of a fleet: its name, and the target as it is on that host (the fleet's, with the host's own keys). */
export type FleetHost<T = FleetTarget> = { readonly name: string; readonly target: T };

/**
 * What the fleet code needs of a target (load.ts's Target has it all; kept structural so that
 * load.ts can resolve fleets without a cycle).
 */
type FleetTarget = {
  readonly name: string;
  readonly transport: 'ssh' | 'local';
  readonly host?: string | undefined;
  readonly port: number;
  readonly user?: string | undefined;
  readonly identityFile?: string | undefined;
  readonly knownHosts?: string | undefined;
  readonly path: string;
  readonly ports: { readonly blue: number; readonly green: number };
  readonly publicUrl: string;
  readonly nginx: object;
  readonly rollout?: RolloutConfig | undefined;
  readonly fleet?: readonly FleetHost<unknown>[] | undefined;
};

export type Rollout = RolloutConfig;

/** A target's rollout settings, with the defaults for what is not set. */
export function rolloutOf(target: { readonly rollout?: RolloutConfig | undefined }): Rollout {
  return { ...rolloutDefaults, ...target.rollout };
}

/**
 * The hosts of a fleet target, each a complete Target: the host's own keys over the target's,
 * with the nginx paths that default from `path` following the host's own path. `resolvedNginx`
 * makes a host's nginx keys complete the way load.ts does for a target.
 */
export function fleetHostsOf<T extends FleetTarget>(
  target: T,
  hosts: readonly FleetHostConfig[],
  resolvedNginx: (path: string, nginx: Partial<T['nginx']>) => T['nginx'],
  explicitNginx: Partial<T['nginx']>,
): FleetHost<T>[] {
  const problems: string[] = [];
  if (target.transport !== 'ssh') problems.push(`targets.${target.name}.hosts: a fleet needs transport "ssh"`);
  const names = hosts.map((entry) => entry.name ?? defaultName(entry, hosts));
  names.forEach((name, index) => {
    if (names.indexOf(name) !== index)
      problems.push(
        `targets.${target.name}.hosts[${index}]: the name "${name}" is taken by hosts[${names.indexOf(name)}]; give each a "name"`,
      );
  });
  const canary = target.rollout?.canary;
  if (canary !== undefined && !names.includes(canary)) {
    const guess = didYouMean(canary, names);
    problems.push(
      `targets.${target.name}.rollout.canary: no host "${canary}"${guess ? `; did you mean "${guess}"?` : ''} (hosts: ${names.join(', ')})`,
    );
  }
  const members = hosts.map((entry, index): FleetHost<T> => {
    const path = entry.path ?? target.path;
    const ports = entry.ports ?? target.ports;
    if (ports.blue === ports.green) problems.push(`targets.${target.name}.hosts[${index}].ports.green: must differ from ports.blue`);
    const nginx = resolvedNginx(path, { ...explicitNginx, ...entry.nginx } as Partial<T['nginx']>);
    const rest: T = target;
    return {
      name: names[index]!,
      target: {
        ...rest,
        host: entry.host,
        port: entry.port ?? target.port,
        ...((entry.user ?? target.user) ? { user: entry.user ?? target.user } : {}),
        ...((entry.identityFile ?? target.identityFile) ? { identityFile: entry.identityFile ?? target.identityFile } : {}),
        ...((entry.knownHosts ?? target.knownHosts) ? { knownHosts: entry.knownHosts ?? target.knownHosts } : {}),
        path,
        ports,
        publicUrl: entry.publicUrl ?? target.publicUrl,
        nginx,
      },
    };
  });
  if (problems.length > 0)
    throw new DeployError('config', problems.join('\n'), { hint: 'docs/config.md#fleets documents hosts and rollout.' });
  return members;
}

function defaultName(entry: FleetHostConfig, hosts: readonly FleetHostConfig[]): string {
  const shared = hosts.filter((other) => other.host === entry.host).length > 1;
  return shared ? `${entry.host}:${entry.port ?? 22}` : entry.host;
}

/**
 * `--host NAME`: the one host of the fleet a command works on, as a plain one-host target. On a
 * target without hosts, NAME must be its host.
 */
export function narrowToHost<T extends FleetTarget & { readonly fleet?: readonly FleetHost<T>[] | undefined }>(
  target: T,
  name: string | undefined,
): T {
  if (name === undefined) return target;
  const fleet = target.fleet as readonly FleetHost<T>[] | undefined;
  if (fleet === undefined) {
    if (name === target.host || (target.transport === 'local' && name === 'local')) return target;
    throw new DeployError('usage', `Target ${target.name} is one host (${target.host ?? 'local'}), not "${name}".`, {
      hint: `Leave out --host, or list the fleet under targets.${target.name}.hosts.`,
    });
  }
  const found = fleet.find((member) => member.name === name);
  if (found) return found.target;
  const names = fleet.map((member) => member.name);
  const guess = didYouMean(name, names);
  throw new DeployError('usage', `Target ${target.name} has no host "${name}".${guess ? ` Did you mean "${guess}"?` : ''}`, {
    hint: `Hosts: ${names.join(', ')}.`,
  });
}

/** The hosts a command runs on: the fleet's, or null for a one-host target (and with --host). */
export function fleetOf<T extends FleetTarget & { readonly fleet?: readonly FleetHost<T>[] | undefined }>(
  target: T,
  host: string | undefined,
): readonly FleetHost<T>[] | null {
  return target.fleet === undefined || host !== undefined ? null : (target.fleet as readonly FleetHost<T>[]);
}
