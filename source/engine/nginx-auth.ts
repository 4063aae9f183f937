import type { EdgeAuth } from '../config/load.js';
import { nginxQuoted } from './nginx-quote.js';

/**
 * API keys at the edge, in stock nginx (1.22: no njs, no auth modules beyond the stock ones). The
 * accepted keys are a `map` of `Authorization` values in a file of their own (engine/keys-file.ts,
 * mode 600, rewritten by `mcp-deploy keys` and never by a cutover), included from the http
 * include; the location include answers a request whose value is not in it with 401 and
 * `WWW-Authenticate: Bearer`, unless its path is one of `auth.openPaths`.
 *
 * nginx compares map strings without regard to case, so keys are made of lowercase hex only: the
 * comparison loses nothing. nginx cannot hash a header, so the file holds the keys themselves.
 */

/** `$<upstream>_api_key`: the id of the key a request carries, or "" (set by the keys file's map). */
export function apiKeyVariable(upstream: string): string {
  return `$${upstream}_api_key`;
}

/** What nginx answers a request without an accepted key: a JSON-RPC error, as MCP clients read them (no quotes or backslashes: it sits in an nginx string). */
export const refusedBody = JSON.stringify({
  jsonrpc: '2.0',
  id: null,
  error: { code: -32001, message: 'Unauthorized: send an API key in the Authorization header, as Bearer <key>.' },
});

export function edgeAuthHttpLines(upstream: string, auth: EdgeAuth): string[] {
  const open = `$${upstream}_open`;
  return [
    '# API keys (auth.apiKeys): the accepted keys are in their own file (mode 600), which mcp-deploy keys rewrites.',
    `include ${nginxQuoted(auth.keysFile, 'the keys file (the deploy root)')};`,
    '# Paths served without a key (auth.openPaths).',
    `map $uri ${open} {`,
    ...auth.openPaths.map((path) => `    ${nginxQuoted(path, 'auth.openPaths')} 1;`),
    '    default "";',
    '}',
    '# Refused: no accepted key, and not an open path.',
    `map "${apiKeyVariable(upstream)}|${open}" $${upstream}_refused {`,
    '    "|" 1;',
    '    default "";',
    '}',
  ];
}

export function edgeAuthLocationLines(upstream: string, app: string): string[] {
  const realm = app.replace(/[^A-Za-z0-9_.-]/g, '');
  return [
    `if ($${upstream}_refused) {`,
    `    add_header WWW-Authenticate 'Bearer realm="${realm}"' always;`,
    `    return 401 '${refusedBody}';`,
    '}',
    // The key is the edge's business: the server never sees it (nor can it log it).
    'proxy_set_header Authorization "";',
  ];
}
