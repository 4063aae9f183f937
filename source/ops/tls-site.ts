import type { Config, Target } from '../config/load.js';
import { nginxQuoted } from '../engine/nginx-quote.js';
import { mcpLocationBlock } from '../sandbox/nginx-conf.js';
import { acmeOf, tlsPaths } from './tls.js';

/**
 * The site for an https:// publicUrl: the TLS server with the MCP location, and the plain HTTP
 * server beside it. Plain HTTP answers the ACME challenge (renewals need it) and redirects every
 * page to https, except the MCP path: a client configured with http:// would follow a redirect
 * only to lose its Authorization header on the way (fetch drops it when the scheme changes) and
 * meet a 401 it cannot explain, and it would have sent its key in the clear already. It gets a
 * 403 naming the https URL instead (docs/operations.md#https says more).
 */

export const plainMcpMessage = (httpsUrl: string) => `MCP is served over HTTPS only: use ${httpsUrl}`;

export function renderTlsSite(config: Pick<Config, 'app' | 'acme' | 'health'>, target: Target): string[] {
  const url = new URL(target.publicUrl);
  const paths = tlsPaths(config, target);
  const mcpPath = config.health.mcp?.path ?? '/mcp';
  const https = `https://${url.host}${mcpPath}`;
  const refused = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message: plainMcpMessage(https) } });
  return [
    'server {',
    `    listen ${url.port || 443} ssl;`,
    `    server_name ${url.hostname};`,
    `    # Certificate and key, from mcp-deploy setup --tls (certbot renews them in place).`,
    `    include ${nginxQuoted(paths.includeFile, `targets.${target.name}.path`)};`,
    '',
    mcpLocationBlock(nginxQuoted(target.nginx.locationFile, `targets.${target.name}.nginx.locationFile`), '    '),
    '}',
    '',
    '# Plain HTTP: the ACME challenge, a redirect for everything else, and no MCP (see docs/operations.md#https).',
    'server {',
    `    listen ${acmeOf(config).httpPort};`,
    `    server_name ${url.hostname};`,
    '    location /.well-known/acme-challenge/ {',
    `        root ${nginxQuoted(paths.webroot, `targets.${target.name}.path`)};`,
    '    }',
    `    location = ${mcpPath} {`,
    '        default_type application/json;',
    `        return 403 '${refused}';`,
    '    }',
    '    location / {',
    `        return 301 https://${url.host}$request_uri;`,
    '    }',
    '}',
  ];
}
