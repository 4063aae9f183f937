import { request } from 'node:http';
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { fail, pass, warn, type DoctorCheck, type HostProbe } from './doctor-check.js';
import { acmeOf } from './tls.js';

/**
 * Doctor's HTTPS checks, for an https:// publicUrl: the certificate nginx really serves (looked
 * at from here, as a client sees it: expiry, the domain it covers, whether it is trusted), plain
 * HTTP redirecting (the MCP path refused instead, see tls-site.ts), and renewal being scheduled.
 */

/** certbot renews 30 days before expiry: a certificate with less than this left means renewal is failing. */
const renewalOverdueDays = 20;

export async function tlsChecks(probe: HostProbe): Promise<DoctorCheck[]> {
  const url = new URL(probe.target.publicUrl);
  if (url.protocol !== 'https:') return [];
  return [await certificateCheck(url), await redirectCheck(probe, url), await renewalCheck(probe)];
}

type Seen = { readonly cert: PeerCertificate; readonly authorized: boolean; readonly authorizationError: string | null };

function peerCertificate(url: URL): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 443),
      servername: url.hostname,
      rejectUnauthorized: false,
      timeout: 10_000,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const authorizationError = socket.authorizationError ? String(socket.authorizationError) : null;
      socket.end();
      resolve({ cert, authorized: socket.authorized, authorizationError });
    });
    socket.once('timeout', () => socket.destroy(new Error('no TLS handshake within 10 s')));
    socket.once('error', reject);
  });
}

async function certificateCheck(url: URL): Promise<DoctorCheck> {
  const name = 'tls certificate';
  let seen: Seen;
  try {
    seen = await peerCertificate(url);
  } catch (error) {
    return fail(
      name,
      `no TLS answer from ${url.host}: ${error instanceof Error ? error.message : String(error)}`,
      'Run mcp-deploy setup --tls, add the TLS server block it shows to the site, and reload nginx',
    );
  }
  const { cert } = seen;
  if (!cert.valid_to) return fail(name, `${url.host} sent no certificate`, 'Run mcp-deploy setup --tls');
  const days = Math.floor((Date.parse(cert.valid_to) - Date.now()) / 86_400_000);
  const until = new Date(Date.parse(cert.valid_to)).toISOString().slice(0, 10);
  if (days < 0)
    return fail(name, `the certificate expired on ${until}`, 'Renew it: sudo certbot renew, then check renewal (doctor "tls renewal")');
  const identity = checkServerIdentity(url.hostname, cert);
  if (identity !== undefined)
    return fail(
      name,
      `the certificate does not cover ${url.hostname}: ${identity.message}`,
      `Get one for ${url.hostname}: mcp-deploy setup --tls`,
    );
  if (!seen.authorized) {
    return fail(
      name,
      `covers ${url.hostname}, expires ${until}, but is not trusted here: ${seen.authorizationError ?? 'unknown issuer'}`,
      "Use a public CA (acme.server: Let's Encrypt by default); for a private CA, trust its root on the clients (NODE_EXTRA_CA_CERTS for Node)",
    );
  }
  const detail = `covers ${url.hostname}, trusted, expires ${until} (in ${days} days)`;
  if (days < renewalOverdueDays)
    return warn(name, `${detail}: renewal should have happened by now`, 'Check renewal: sudo certbot renew --dry-run');
  return pass(name, detail);
}

async function redirectCheck(probe: HostProbe, url: URL): Promise<DoctorCheck> {
  const name = 'http redirect';
  const port = acmeOf(probe.config).httpPort;
  const plain = (path: string, method: 'GET' | 'POST') => answer(url.hostname, port, path, method);
  const page = await plain('/', 'GET').catch((error: unknown) => error as Error);
  if (page instanceof Error) {
    return warn(
      name,
      `nothing answers plain HTTP on ${url.hostname}:${port} (${page.message})`,
      'Add the plain HTTP server block mcp-deploy setup --tls shows: renewals answer their challenge there',
    );
  }
  const location = page.location ?? '';
  if (![301, 302, 307, 308].includes(page.status) || !location.startsWith('https://')) {
    return fail(
      name,
      `http://${url.hostname}:${port}/ answers ${page.status}${location ? ` → ${location}` : ''}, not a redirect to https`,
      'Use the plain HTTP server block mcp-deploy setup --tls shows',
    );
  }
  const mcpPath = probe.config.health.mcp?.path ?? '/mcp';
  const mcp = await plain(mcpPath, 'POST').catch(() => null);
  const mcpNote =
    mcp === null
      ? ''
      : mcp.status === 403
        ? `; ${mcpPath} is refused over plain HTTP (403, by design)`
        : `; ${mcpPath} answers ${mcp.status} over plain HTTP`;
  return pass(name, `http://${url.hostname}:${port}/ → ${location} (${page.status})${mcpNote}`);
}

function answer(host: string, port: number, path: string, method: 'GET' | 'POST'): Promise<{ status: number; location: string | null }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host, port, path, method, agent: false, timeout: 10_000, headers: { connection: 'close', 'content-type': 'application/json' } },
      (response) => {
        response.destroy();
        resolve({ status: response.statusCode ?? 0, location: response.headers.location ?? null });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(method === 'POST' ? '{"jsonrpc":"2.0","id":1,"method":"ping"}' : undefined);
  });
}

async function renewalCheck(probe: HostProbe): Promise<DoctorCheck> {
  const name = 'tls renewal';
  const acme = acmeOf(probe.config);
  const result = await probe.sh(
    'systemctl is-enabled certbot.timer 2>/dev/null; echo "--"; crontab -l 2>/dev/null; cat /etc/cron.d/certbot 2>/dev/null; exit 0',
  );
  const [timer = '', cron = ''] = result.stdout.split('\n--\n');
  const cronRenews = cron.split('\n').some((line) => !line.trim().startsWith('#') && /certbot/.test(line) && /\brenew\b/.test(line));
  const stateDir = acme.stateDir;
  if (stateDir !== undefined) {
    return cronRenews && cron.includes(stateDir)
      ? pass(name, `a cron line renews the certificates in ${stateDir}`)
      : warn(
          name,
          `certbot keeps its state in ${stateDir} (acme.stateDir), and no cron line of ${probe.account.name} renews it`,
          'Add the cron line that mcp-deploy setup --tls shows to the crontab of the user certbot runs as',
        );
  }
  if (timer.trim() === 'enabled') return pass(name, 'certbot.timer is enabled (twice a day; the deploy hook reloads nginx)');
  if (cronRenews) return pass(name, 'a cron line runs certbot renew');
  return warn(
    name,
    'neither certbot.timer nor a cron line renews the certificate',
    'On the host: sudo systemctl enable --now certbot.timer',
  );
}
