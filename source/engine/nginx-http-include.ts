import type { EdgeAuth, Target } from '../config/load.js';
import { edgeAuthHttpLines } from './nginx-auth.js';
import { colours, type Colour } from './colours.js';
import { nginxQuoted } from './nginx-quote.js';
import { type Routing, routingLine, tagPattern } from './nginx-routing.js';

/**
 * The http-level include mcp-deploy rewrites at every switch and retirement (`nginx.upstreamFile`).
 * It keeps the one `upstream <name>` block sites have always proxied to (the active colour), so a
 * site that was never changed deploys as it always did. Beside it: one upstream per colour and
 * the maps the location include (nginx-location-include.ts) routes, tags and logs with. Stock
 * nginx only (1.22, Debian 12): `map` with regular expressions, no njs, no Lua.
 *
 * Variables are named after the upstream, so two apps can share one nginx.
 */

export type IncludeTarget = Pick<Target, 'name' | 'ports'> & {
  readonly nginx: Pick<Target['nginx'], 'upstream' | 'sessionLog'> & { readonly auth?: EdgeAuth | null };
};

/** `$<upstream>_<what>`, one family of variables per app. */
export function variable(upstream: string, what: string): string {
  return `$${upstream}_${what}`;
}

export function colourUpstream(upstream: string, colour: Colour): string {
  return `${upstream}_${colour}`;
}

export function renderHttpInclude(target: IncludeTarget, app: string, routing: Routing): string {
  const name = target.nginx.upstream;
  const v = (what: string) => variable(name, what);
  const address = (colour: Colour) => `127.0.0.1:${target.ports[colour]}`;
  const escapedAddress = (colour: Colour) => address(colour).replaceAll('.', '\\.');
  const live = colours.filter((colour) => routing.tags[colour] !== null);
  // The active colour first: its sessions are the many.
  const ordered = [routing.active, ...live.filter((colour) => colour !== routing.active)];
  const tagged = (colour: Colour) => `"~^${routing.tags[colour]}\\."`;
  const block = (upstream: string, colour: Colour) => [
    `upstream ${upstream} {`,
    `    server ${address(colour)};`,
    '    keepalive 16;',
    '}',
  ];
  return [
    `# Written by mcp-deploy for "${app}". Do not edit: every deploy, rollback and drain rewrites it.`,
    '# Include it inside http {}. A site either proxy_passes to the first upstream (every request goes',
    "# to the active colour) or includes mcp-deploy's location include, which keeps each MCP session",
    '# on the colour that issued it (docs/operations.md).',
    routingLine(routing),
    ...block(name, routing.active),
    ...block(colourUpstream(name, 'blue'), 'blue'),
    ...block(colourUpstream(name, 'green'), 'green'),
    '',
    "# A request's Mcp-Session-Id carries the tag of the colour that issued it: that colour serves it.",
    `map $http_mcp_session_id ${v('route')} {`,
    ...ordered.map((colour) => `    ${tagged(colour)} ${colourUpstream(name, colour)};`),
    `    default ${colourUpstream(name, routing.active)};`,
    '}',
    '# A tag of ours that is not live any more: its colour was retired, nginx answers 404 itself.',
    `map $http_mcp_session_id ${v('retired')} {`,
    ...ordered.map((colour) => `    ${tagged(colour)} "";`),
    `    "~^${tagPattern}\\." 1;`,
    '    default "";',
    '}',
    '# What the server sees: the id it issued, without the tag.',
    `map $http_mcp_session_id ${v('session_in')} {`,
    `    "~^${tagPattern}\\.(.+)$" $1;`,
    '    default $http_mcp_session_id;',
    '}',
    "# What the client sees: the server's id with the tag of the colour that answered.",
    `map "$upstream_addr|$upstream_http_mcp_session_id" ${v('session_out')} {`,
    ...ordered.map((colour) => `    "~^${escapedAddress(colour)}\\|(.+)$" "${routing.tags[colour]}.$1";`),
    '    default $upstream_http_mcp_session_id;',
    '}',
    '# Which colour answered: mcp-deploy checks it through the public URL after every switch.',
    `map $upstream_addr ${v('colour')} {`,
    ...colours.map((colour) => `    ${address(colour)} ${colour};`),
    '    default "";',
    '}',
    "# The session log: each request's session, as its tag and the end of the server's id (never the whole id).",
    `map $http_mcp_session_id ${v('log_in')} {`,
    `    "~^(${tagPattern})\\.[!-~]*?([!-~]{1,10})$" $1.$2;`,
    '    default -;',
    '}',
    `map ${v('session_out')} ${v('log_out')} {`,
    `    "~^(${tagPattern})\\.[!-~]*?([!-~]{1,10})$" $1.$2;`,
    '    default -;',
    '}',
    `log_format ${name}_sessions '$msec ${v('log_in')} ${v('log_out')} $status $request_method $upstream_addr';`,
    // At the http level, next to the server's own access_log: one in a location would replace the
    // site's (access_log is inherited only where a level sets none). Only requests to this app's
    // colours, and the 404s for its retired tags, are written.
    `map "$upstream_addr|${v('retired')}" ${v('logged')} {`,
    `    "~^(?:${colours.map(escapedAddress).join('|')})\\|" 1;`,
    '    "~\\|1$" 1;',
    '    default "";',
    '}',
    `access_log ${nginxQuoted(target.nginx.sessionLog, `targets.${target.name}.nginx.sessionLog`)} ${name}_sessions if=${v('logged')};`,
    ...(target.nginx.auth ? ['', ...edgeAuthHttpLines(name, target.nginx.auth)] : []),
    '',
  ].join('\n');
}
