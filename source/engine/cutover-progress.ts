import type { Contract } from '../contract/contract.js';
import type { ContractDiff } from '../contract/diff.js';
import { otherColour, portOf, type Colour } from './colours.js';
import type { EngineContext } from './context.js';
import type { Includes } from './nginx.js';
import type { Routing } from './nginx-routing.js';
import type { ActiveSide } from './session.js';

/** How far a cutover got, so recovery knows what to undo. Mutated as steps complete. */
export type CutoverProgress = {
  colour: Colour;
  port: number;
  started: boolean;
  switched: boolean;
  finalized: boolean;
  tools: string[] | null;
  /** The new release's MCP contract, read once it was healthy, and how it differs from the active one's. */
  contract: Contract | null;
  contractDiff: ContractDiff | null;
  /** The routing nginx had before the switch (what a switch back returns to); null for an include that stated none. */
  routingBefore: Routing | null;
  /** The routing nginx has since the switch. */
  routing: Routing | null;
  /** The includes as this run last wrote them (null before the switch): what the drain's retirement replaces. */
  includes: Includes | null;
  /** The public URL named the colour that answered: the site routes through the location include, sessions are pinned. */
  pinned: boolean;
  /** performance.now() at the switch: the session drain's bound counts from there. */
  switchedAt: number | null;
  /** The switch's own command saw nginx's old workers stop accepting (nginx-settle.ts): the public URL shows the switch from then on. */
  settled: boolean;
};

export function newProgress(target: EngineContext['target'], active: ActiveSide): CutoverProgress {
  const colour = active === null ? 'blue' : otherColour(active.colour);
  return {
    colour,
    port: portOf(target, colour),
    started: false,
    switched: false,
    finalized: false,
    tools: null,
    contract: null,
    contractDiff: null,
    routingBefore: null,
    routing: null,
    includes: null,
    pinned: false,
    switchedAt: null,
    settled: false,
  };
}
