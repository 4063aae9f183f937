import ssh2, { type ServerHostKeyAlgorithm } from 'ssh2';
import { DeployError } from '../errors.js';
import { knownKeyTypes, type KnownHostEntry } from './known-hosts.js';

/**
 * Which host key signatures a connection accepts, and the fingerprint an operator trusts by
 * hand (--accept-host-key).
 */

/**
 * Host key algorithms for each key type a known_hosts line can hold. `ssh-rsa` as an algorithm
 * is RSA with SHA-1 signatures: only when the target allows it, as OpenSSH does.
 */
function algorithmsForKeyType(allowSha1: boolean): Readonly<Record<string, readonly ServerHostKeyAlgorithm[]>> {
  return {
    'ssh-ed25519': ['ssh-ed25519'],
    'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
    'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
    'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
    'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', ...(allowSha1 ? (['ssh-rsa'] as const) : [])],
  };
}

/** `SHA256:` (optional) and the unpadded base64 of 32 bytes, as `ssh-keygen -l` prints it. */
const sha256Fingerprint = /^(SHA256:)?[A-Za-z0-9+/]{43}=?$/i;

/** --accept-host-key's value, refused before anything connects when it cannot be a fingerprint. */
export function checkFingerprintOption(value: string): void {
  if (sha256Fingerprint.test(value.trim())) return;
  const md5 = /^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(value.trim());
  throw new DeployError(
    'usage',
    `--accept-host-key ${JSON.stringify(value)} is malformed: ${md5 ? 'that is an MD5 fingerprint; mcp-deploy checks SHA256 ones' : 'expected SHA256: and 43 characters of base64'}.`,
    {
      hint: 'Give the fingerprint as ssh-keygen -l -E sha256 -f <host key>.pub (or the refusal message) prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s.',
    },
  );
}

/**
 * What an SSH server offers to sign its host key with, read from a second handshake's log: only
 * asked after a handshake found no algorithm in common, to say why (an ssh-rsa-only host). The
 * log is not kept on for real connections: ssh2 would format a line for every packet.
 */
export function offeredHostKeyFormats(host: string, port: number, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve) => {
    const probe = new ssh2.Client();
    let offered: string[] = [];
    const done = () => {
      clearTimeout(timer);
      probe.removeAllListeners();
      probe.on('error', () => {});
      probe.destroy();
      resolve(offered);
    };
    const timer = setTimeout(done, timeoutMs);
    probe.on('error', done);
    probe.on('close', done);
    try {
      probe.connect({
        host,
        port,
        // Never used: the handshake stops at the host key, before any login.
        username: 'mcp-deploy-probe',
        readyTimeout: timeoutMs,
        // Nothing is ever trusted on this connection: it only listens to the server's offer.
        hostVerifier: () => false,
        debug: (line: string) => {
          const match = /^Handshake: \(remote\) Host key format: (.*)$/.exec(line);
          if (match?.[1] === undefined) return;
          offered = match[1].split(',');
          done();
        },
      });
    } catch {
      done();
    }
  });
}

/**
 * Ask first for the key types known_hosts lists for this host, as OpenSSH does, so a host with
 * an RSA entry is not refused as "unknown" just because it also offers an ed25519 key.
 */
export function hostKeyPreference(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  allowSha1: boolean,
): ServerHostKeyAlgorithm[] {
  const algorithms = algorithmsForKeyType(allowSha1);
  const preferred = knownKeyTypes(entries, host, port).flatMap((type) => algorithms[type] ?? []);
  return [...new Set([...preferred, ...Object.values(algorithms).flat()])];
}
