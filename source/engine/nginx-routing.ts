import { randomBytes } from 'node:crypto';
import { colours, otherColour, type Colour } from './colours.js';

/**
 * Where nginx sends each request, as data: which colour takes new traffic (requests without a
 * session, and `initialize`), and the tag each colour puts on the sessions it issues. A request
 * whose `Mcp-Session-Id` carries a live tag goes to the colour that issued it; a tag of ours that
 * is not live any more (its colour was retired) is answered by nginx itself with 404, the MCP
 * signal to start a new session.
 *
 * A tag names one life of a colour, not the colour: a colour that is started again gets a new
 * tag, so a session from its earlier life can never reach a process that never saw it.
 */
export type Routing = {
  readonly active: Colour;
  /** null: retired (or never tagged): nothing is pinned to it. The active colour always has a tag. */
  readonly tags: Readonly<Record<Colour, string | null>>;
};

/** What every tag looks like, as a regular expression nginx's maps and our log reader share. */
export const tagPattern = '(?:blue|green)-[0-9a-z]{6}';

const tagShape = new RegExp(`^${tagPattern}$`);
const routingMarker = '# mcp-deploy routing: ';

export function newTag(colour: Colour): string {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  const suffix = [...randomBytes(6)].map((byte) => alphabet[byte % alphabet.length]).join('');
  return `${colour}-${suffix}`;
}

/** The colour a tag belongs to. */
export function colourOfTag(tag: string): Colour | null {
  if (!tagShape.test(tag)) return null;
  return tag.startsWith('blue-') ? 'blue' : 'green';
}

/**
 * After switching new traffic to `to`: it starts a new life with a new tag; the colour it
 * replaces keeps its tag (its sessions stay with it until the session drain retires it).
 */
export function switchedTo(previous: Routing | null, to: Colour): Routing {
  const other = otherColour(to);
  const kept = previous !== null && previous.active === other ? previous.tags[other] : null;
  return { active: to, tags: { [to]: newTag(to), [other]: kept } as Record<Colour, string | null> };
}

/**
 * Back to `to` after a cutover that did not hold: `to` keeps the tag it had in `before` (its
 * sessions never noticed anything), the colour that failed is retired at once.
 */
export function switchedBack(before: Routing | null, to: Colour): Routing {
  const tag = before?.tags[to] ?? newTag(to);
  return { active: to, tags: { [to]: tag, [otherColour(to)]: null } as Record<Colour, string | null> };
}

export function retired(routing: Routing, colour: Colour): Routing {
  if (colour === routing.active) throw new Error(`cannot retire the active colour ${colour}`);
  return { active: routing.active, tags: { ...routing.tags, [colour]: null } };
}

/** The colours whose sessions nginx still routes to them. */
export function liveColours(routing: Routing): Colour[] {
  return colours.filter((colour) => routing.tags[colour] !== null);
}

/** The one comment line of the http include that says all of the above, so it can be read back. */
export function routingLine(routing: Routing): string {
  return `${routingMarker}${JSON.stringify({ active: routing.active, tags: routing.tags })}`;
}

/** The routing an include states; null for an include without one (older or hand-written) or none. */
export function parseRouting(text: string | null): Routing | null {
  if (text === null) return null;
  const line = text.split('\n').find((candidate) => candidate.startsWith(routingMarker));
  if (line === undefined) return null;
  try {
    const parsed = JSON.parse(line.slice(routingMarker.length)) as { active?: unknown; tags?: Record<string, unknown> };
    const active = parsed.active === 'blue' || parsed.active === 'green' ? parsed.active : null;
    if (active === null || typeof parsed.tags !== 'object' || parsed.tags === null) return null;
    const tagOf = (colour: Colour): string | null => {
      const value = parsed.tags?.[colour];
      return typeof value === 'string' && colourOfTag(value) === colour ? value : null;
    };
    const tags = { blue: tagOf('blue'), green: tagOf('green') };
    return tags[active] === null ? null : { active, tags };
  } catch {
    return null;
  }
}
