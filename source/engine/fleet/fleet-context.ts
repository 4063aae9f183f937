import type { Rollout } from '../../config/fleet.js';
import type { Transport } from '../../remote/transport.js';
import { EventBus } from '../../run/events.js';
import type { EngineContext } from '../context.js';

/** One host of a fleet run: its name and the one-host context its run goes through. */
export type FleetMember = { readonly name: string; readonly context: EngineContext };

/**
 * A fleet run's context: the fleet's own (the local steps, the fleet's events, the signal), the
 * hosts in the config's order, and how the release is rolled out.
 */
export type FleetContext = {
  readonly base: EngineContext;
  readonly members: readonly FleetMember[];
  readonly rollout: Rollout;
};

/**
 * A host's context inside a fleet run: its own target and connection, and its own bus, whose
 * events reach the fleet's bus tagged with the host (the plain reporter prefixes them, the app's
 * matrix files them under the host).
 */
export function memberContext(
  base: EngineContext,
  name: string,
  target: EngineContext['target'],
  connect: () => Promise<Transport>,
): FleetMember {
  const bus = new EventBus();
  bus.on((event) => base.bus.emit({ kind: 'host', host: name, event }));
  return { name, context: { ...base, target, bus, connect } };
}
