import type { Target } from '../config/load.js';
import type { Colour } from '../host/layout.js';

export { colours, type Colour } from '../host/layout.js';

export function otherColour(colour: Colour): Colour {
  return colour === 'blue' ? 'green' : 'blue';
}

export function portOf(target: Pick<Target, 'ports'>, colour: Colour): number {
  return target.ports[colour];
}

export function colourOfPort(target: Pick<Target, 'ports'>, port: number | null): Colour | null {
  if (target.ports.blue === port) return 'blue';
  if (target.ports.green === port) return 'green';
  return null;
}
