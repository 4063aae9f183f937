import type { Config, Target } from '../config/load.js';
import type { AcmeConfig } from '../config/schema.js';
import { DeployError } from '../errors.js';
import { nginxQuoted } from '../engine/nginx-quote.js';
import { arg, command, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { sudoCommand } from './sudo-rules.js';

/**
 * `mcp-deploy setup --tls`: a certificate for the public URL's domain from an ACME CA with
 * certbot's webroot method (nginx serves the challenge from a folder of the deploy root, so
 * certbot never edits nginx's configuration), and the TLS include the site's HTTPS server block
 * reads. certbot runs as root through `sudo -n` (never a prompt: a missing sudoers rule is an
 * error that prints the rule) unless `acme.certbot` says otherwise.
 */

export const defaultAcme: AcmeConfig = {
  server: 'https://acme-v02.api.letsencrypt.org/directory',
  certbot: ['sudo', '-n', 'certbot'],
  httpPort: 80,
};

export type TlsPaths = {
  readonly domain: string;
  /** certbot's --cert-name: the app, so two apps on one host keep their own. */
  readonly certName: string;
  readonly webroot: string;
  readonly fullchain: string;
  readonly privkey: string;
  /** The include with ssl_certificate and ssl_certificate_key, ours to rewrite. */
  readonly includeFile: string;
};

export function acmeOf(config: Pick<Config, 'acme'>): AcmeConfig {
  return config.acme ?? defaultAcme;
}

export function tlsPaths(config: Pick<Config, 'app' | 'acme'>, target: Pick<Target, 'path' | 'publicUrl'>): TlsPaths {
  const acme = acmeOf(config);
  const live = `${acme.stateDir === undefined ? '/etc/letsencrypt' : `${acme.stateDir}/config`}/live/${config.app}`;
  return {
    domain: new URL(target.publicUrl).hostname,
    certName: config.app,
    webroot: `${target.path}/acme-webroot`,
    fullchain: `${live}/fullchain.pem`,
    privkey: `${live}/privkey.pem`,
    includeFile: `${target.path}/nginx-tls.conf`,
  };
}

/** certbot's state folders under acme.stateDir, when it keeps its own. */
function stateArgs(acme: AcmeConfig): string[] {
  if (acme.stateDir === undefined) return [];
  return ['--config-dir', `${acme.stateDir}/config`, '--work-dir', `${acme.stateDir}/work`, '--logs-dir', `${acme.stateDir}/logs`];
}

function words(command: AcmeConfig['certbot']): string[] {
  return typeof command === 'string' ? command.trim().split(/\s+/) : [...command];
}

/** The whole certbot command setup runs: nothing asks (--non-interactive), nothing edits nginx (--webroot). */
export function certbotCommand(config: Pick<Config, 'app' | 'acme'>, target: Target): string[] {
  const acme = acmeOf(config);
  const paths = tlsPaths(config, target);
  const reload = typeof target.nginx.reload === 'string' ? target.nginx.reload : target.nginx.reload.join(' ');
  return [
    ...words(acme.certbot),
    'certonly',
    '--webroot',
    '-w',
    paths.webroot,
    '-d',
    paths.domain,
    '--cert-name',
    paths.certName,
    '--non-interactive',
    '--agree-tos',
    ...(acme.email === undefined ? ['--register-unsafely-without-email'] : ['--email', acme.email]),
    '--server',
    acme.server,
    ...stateArgs(acme),
    // Kept in the renewal config: every renewal reloads nginx with the new certificate.
    '--deploy-hook',
    reload,
  ];
}

/** certbot renew as a cron line, for a certbot that keeps its own state (the Debian timer renews /etc/letsencrypt only). */
export function renewCronLine(config: Pick<Config, 'acme'>): string {
  const acme = acmeOf(config);
  const renew = [...words(acme.certbot), 'renew', '-q', ...stateArgs(acme)];
  return `17 3,15 * * * ${command(renew)}`;
}

export function renderTlsInclude(app: string, paths: TlsPaths): string {
  return [
    `# Written by mcp-deploy setup --tls for "${app}": include it in the site's TLS server block.`,
    `ssl_certificate ${nginxQuoted(paths.fullchain, 'the certificate path (acme.stateDir)')};`,
    `ssl_certificate_key ${nginxQuoted(paths.privkey, 'the key path (acme.stateDir)')};`,
    'ssl_protocols TLSv1.2 TLSv1.3;',
    'ssl_session_timeout 1d;',
    '',
  ].join('\n');
}

/** The sudo invocation certbot runs through, for the sudoers rule; null when it runs without sudo. */
export function certbotSudo(config: Pick<Config, 'app' | 'acme'>, target: Target): readonly string[] | null {
  const sudo = sudoCommand(certbotCommand(config, target));
  return sudo === null || sudo === 'unreadable' ? null : sudo.argv;
}

export type CertbotOutcome =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly why: string; readonly hint: string };

/** Runs certbot on the host (bounded, never prompting), after making the webroot nginx serves the challenge from. */
export async function obtainCertificate(transport: Transport, config: Config, target: Target): Promise<CertbotOutcome> {
  const paths = tlsPaths(config, target);
  const made = await transport.run(['mkdir', '-p', `${paths.webroot}/.well-known/acme-challenge`], { timeoutMs: 30_000 });
  if (made.code !== 0)
    return {
      ok: false,
      why: `could not create ${paths.webroot}: ${made.stderr.trim()}`,
      hint: 'mcp-deploy doctor checks the deploy root.',
    };
  const command = certbotCommand(config, target);
  const result = await transport.run(command, { timeoutMs: 300_000 }).catch((error: unknown) => error as Error);
  if (result instanceof Error)
    return { ok: false, why: `certbot did not finish: ${result.message}`, hint: 'Run the certbot command above on the host to see why.' };
  const output = `${result.stderr}\n${result.stdout}`;
  if (result.code === 0) return { ok: true, detail: `certificate for ${paths.domain} in ${paths.fullchain}` };
  if (/a password is required|sudo:.*password|may not run sudo|not allowed to execute/i.test(output)) {
    return {
      ok: false,
      why: 'sudo refused to run certbot without a password',
      hint: 'Add the sudoers rule printed above (visudo -f /etc/sudoers.d/mcp-deploy), or run the certbot command above as root, then mcp-deploy setup --tls again.',
    };
  }
  if (/command not found|No such file/i.test(output) && !/certbot:/.test(output)) {
    return {
      ok: false,
      why: 'certbot is not installed on the host',
      hint: 'On the host: sudo apt-get install certbot, then mcp-deploy setup --tls again.',
    };
  }
  const last = output.trim().split('\n').filter(Boolean).slice(-4).join(' | ');
  return {
    ok: false,
    why: `certbot exited ${result.code}: ${last}`,
    hint: `Check that ${paths.domain} resolves to this host, that nginx serves ${paths.webroot} at /.well-known/acme-challenge/ on port ${acmeOf(config).httpPort}, and that acme.server is right.`,
  };
}

/** Whether the certificate files exist on the host (readable by the SSH user or not: `test -e` of the live folder). */
export async function certificateExists(transport: Transport, paths: TlsPaths): Promise<boolean> {
  const result = await transport.run(
    { script: script(op('[ -e'), arg(paths.fullchain), op('] || sudo -n test -e'), arg(paths.fullchain), op('2>/dev/null')) },
    { timeoutMs: 15_000 },
  );
  return result.code === 0;
}

export function tlsConfigError(target: Target): DeployError | null {
  if (new URL(target.publicUrl).protocol === 'https:') return null;
  return new DeployError('usage', `setup --tls needs an https:// publicUrl; targets.${target.name}.publicUrl is ${target.publicUrl}.`, {
    hint: `Set targets.${target.name}.publicUrl to https://<your domain>/ and run mcp-deploy setup --tls again.`,
  });
}
