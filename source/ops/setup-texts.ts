import type { Config, Target } from '../config/load.js';
import { nginxQuoted } from '../engine/nginx-quote.js';
import { mcpLocationBlock } from '../sandbox/nginx-conf.js';
import { renderTlsSite } from './tls-site.js';

/** The texts `setup` prints for root to install: the nginx site and the logrotate rule. */

export function renderSiteSnippet(config: Config, target: Target): string {
  const url = new URL(target.publicUrl);
  const https = url.protocol === 'https:';
  return [
    `# nginx site for "${config.app}": review, then save it as root, e.g. /etc/nginx/sites-available/${config.app}`,
    `# (linked from sites-enabled/) or /etc/nginx/conf.d/${config.app}.conf. Both are read inside http {},`,
    '# where the upstream include must be. A site that already proxy_passes to the upstream changes one',
    `# thing: its location includes ${target.nginx.locationFile} in place of its proxy_pass.`,
    ...(https ? ['# The TLS server reads the certificate include mcp-deploy setup --tls writes: add it once that has run.'] : []),
    `include ${nginxQuoted(target.nginx.upstreamFile, `targets.${target.name}.nginx.upstreamFile`)};`,
    '',
    ...(https
      ? renderTlsSite(config, target)
      : [
          'server {',
          `    listen ${url.port || 80};`,
          `    server_name ${url.hostname};`,
          '',
          mcpLocationBlock(nginxQuoted(target.nginx.locationFile, `targets.${target.name}.nginx.locationFile`), '    '),
          '}',
        ]),
    '',
  ].join('\n');
}

/**
 * The logrotate rule `setup` installs: the server log of every release, nginx's session log, and
 * the audit log. They rotate differently. A server (and nginx) holds its log open, so it is copied
 * and truncated in place; mcp-deploy opens audit.log anew for each line it appends (`cat >>`), so
 * it is renamed and a new one created, which can lose no line (copy-then-truncate could drop one
 * appended between the two). All run as the SSH user, who owns the files.
 */
export function renderLogrotate(
  paths: { readonly logsDir: string; readonly auditLog: string; readonly sessionLog?: string | null },
  account: { readonly user: string; readonly group: string },
): string {
  const sessionLog = paths.sessionLog ? ` "${paths.sessionLog}"` : '';
  return [
    "# Written by mcp-deploy setup: the server log of every release, nginx's session log, and the audit log.",
    `"${paths.logsDir}/*.log"${sessionLog} {`,
    // The logs belong to the SSH user: rotate as that user, in a folder root does not own.
    `    su ${account.user} ${account.group}`,
    '    weekly',
    '    rotate 8',
    '    maxsize 50M',
    '    missingok',
    '    notifempty',
    '    compress',
    '    delaycompress',
    // The server holds its log open for appending: copy it, then truncate it in place.
    '    copytruncate',
    '}',
    '',
    // One line per deploy, rollback and unlock: small, and worth keeping for long.
    `"${paths.auditLog}" {`,
    `    su ${account.user} ${account.group}`,
    '    monthly',
    '    rotate 24',
    '    maxsize 10M',
    '    missingok',
    '    notifempty',
    '    compress',
    '    delaycompress',
    `    create 0644 ${account.user} ${account.group}`,
    '}',
    '',
  ].join('\n');
}
