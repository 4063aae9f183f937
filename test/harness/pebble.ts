import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { execChecked, isExecutable } from './system.js';
import { portAccepts, stopPid, waitFor } from './wait.js';

/**
 * Pebble, Let's Encrypt's ACME test server (Debian's `pebble`), private to one test file, on
 * 127.0.0.1 only. PEBBLE_VA_ALWAYS_VALID skips the challenge (nothing from outside can reach a
 * test's webroot), so certbot gets a certificate for any name. Its directory is served over TLS
 * with a certificate made here (`listenerCa`: what certbot must trust to talk to it); the
 * certificates it issues chain to a root it makes at start (`rootFile`: what clients must trust).
 */

export const pebbleBinary = '/usr/bin/pebble';
export const certbotBinary = '/usr/bin/certbot';

export type PebbleHandle = {
  /** The ACME directory URL, for acme.server. */
  readonly directory: string;
  /** The certificate of Pebble's own listener, for certbot's REQUESTS_CA_BUNDLE. */
  readonly listenerCa: string;
  /** The root the issued certificates chain to, for NODE_EXTRA_CA_CERTS. */
  readonly rootFile: string;
  stop(): Promise<void>;
};

export function pebbleSkipReason(): string | undefined {
  if (process.env.CI) return undefined;
  if (!isExecutable(pebbleBinary)) return `${pebbleBinary} is not installed (apt-get install pebble)`;
  if (!isExecutable(certbotBinary)) return `${certbotBinary} is not installed (apt-get install certbot)`;
  return undefined;
}

export async function startPebble(): Promise<PebbleHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'mcpd-pebble-'));
  const cert = join(dir, 'listener.pem');
  const key = join(dir, 'listener-key.pem');
  await execChecked('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const [port, management, http, tls] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const configFile = join(dir, 'pebble.json');
  await writeFile(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${port}`,
        managementListenAddress: `127.0.0.1:${management}`,
        certificate: cert,
        privateKey: key,
        httpPort: http,
        tlsPort: tls,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const log = openSync(join(dir, 'pebble.log'), 'a');
  const child = spawn(pebbleBinary, ['-config', configFile], {
    stdio: ['ignore', log, log],
    // No random nonce rejections or sleeps: a test run does what it does once.
    env: { ...process.env, PEBBLE_VA_ALWAYS_VALID: '1', PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start pebble');
  const stop = async () => {
    await stopPid(pid, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor('pebble to listen', async () => (await portAccepts(port)) && (await portAccepts(management)), { timeoutMs: 15_000 });
    const ca = await readFile(cert);
    const root = await new Promise<string>((resolve, reject) => {
      get(`https://127.0.0.1:${management}/roots/0`, { ca }, (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    const rootFile = join(dir, 'root.pem');
    await writeFile(rootFile, root);
    return { directory: `https://127.0.0.1:${port}/dir`, listenerCa: cert, rootFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
