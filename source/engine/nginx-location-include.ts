import type { EdgeAuth, Target } from '../config/load.js';
import { edgeAuthLocationLines } from './nginx-auth.js';
import { variable } from './nginx-http-include.js';

/**
 * The location-level include (`nginx.locationFile`): what the site's MCP `location` pulls in, in
 * place of its own `proxy_pass`, to keep every session on the colour that issued it. It routes by
 * the tag, strips it on the way in and adds it on the way out, answers a retired colour's tag
 * with 404, and names the colour that answered (X-MCP-Deploy-Colour, which verify and the drain
 * check). The session log is written from the http include.
 *
 * Its `add_header`, `proxy_set_header` and `proxy_hide_header` replace those a
 * location would otherwise inherit from its server: docs/operations.md says what that means for a
 * site's own headers.
 */

/** The header nginx adds to every answer through the location include: the colour that answered. */
export const colourHeader = 'X-MCP-Deploy-Colour';

/** What nginx answers for a session of a retired colour: the MCP spec's "start a new session". */
export const retiredSessionBody = JSON.stringify({
  jsonrpc: '2.0',
  id: null,
  error: { code: -32001, message: 'Session not found: the release that started it has been replaced. Start a new session.' },
});

export type LocationTarget = { readonly nginx: Pick<Target['nginx'], 'upstream'> & { readonly auth?: EdgeAuth | null } };

export function renderLocationInclude(target: LocationTarget, app: string): string {
  const name = target.nginx.upstream;
  const v = (what: string) => variable(name, what);
  return [
    `# Written by mcp-deploy for "${app}": include it inside the site's location for MCP, in place of`,
    '# its proxy_pass. Keeps each MCP session on the colour that issued it (docs/operations.md).',
    '# Its add_header lines replace any the location would inherit from its server: repeat those here.',
    'default_type application/json;',
    // The key is checked first: a request without one learns nothing, not even whether its session lives.
    ...(target.nginx.auth ? edgeAuthLocationLines(name, app) : []),
    `if (${v('retired')}) {`,
    `    return 404 '${retiredSessionBody}';`,
    '}',
    `proxy_pass http://${v('route')};`,
    `proxy_set_header Mcp-Session-Id ${v('session_in')};`,
    'proxy_hide_header Mcp-Session-Id;',
    `add_header Mcp-Session-Id ${v('session_out')} always;`,
    `add_header ${colourHeader} ${v('colour')} always;`,
    '',
  ].join('\n');
}
