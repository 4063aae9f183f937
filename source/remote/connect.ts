import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import ssh2, { type AgentAuthMethod, type ConnectConfig, type PublicKeyAuthMethod } from 'ssh2';
import { DeployError } from '../errors.js';
import { checkHostKey, fingerprint, keyTypeOf, loadKnownHosts, type HostKeyVerdict } from './known-hosts.js';
import { checkFingerprintOption, hostKeyPreference, offeredHostKeyFormats } from './host-key-algorithms.js';
import { classifyConnectError, hostKeyError, noCommonHostKeyAlgorithm, noKeyError, type AuthContext } from './ssh-errors.js';
import { SshTransport } from './ssh-transport.js';

/**
 * Opens the one SSH connection mcp-deploy uses per host and run: strict host key checking
 * against known_hosts, key or agent authentication, and every failure turned into a DeployError
 * that says what to do next.
 */

export type SshConnectOptions = {
  readonly host: string;
  /** Default 22. */
  readonly port?: number;
  readonly user: string;
  /** Private key to log in with; without it ~/.ssh/id_ed25519, id_ecdsa and id_rsa are tried. */
  readonly identityFile?: string;
  /** Default ~/.ssh/known_hosts. */
  readonly knownHostsFile?: string;
  /** For an encrypted identity file. */
  readonly passphrase?: string;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; false for none. */
  readonly agent?: string | false;
  /** How long the TCP connect, handshake and login may take; default 20 s. */
  readonly readyTimeoutMs?: number;
  /**
   * A `SHA256:…` fingerprint the operator explicitly trusts for a host that is not in
   * known_hosts yet (--accept-host-key). It never overrides a known key that changed.
   */
  readonly acceptHostKey?: string;
  /**
   * Accept ssh-rsa (RSA with SHA-1) host key signatures, which OpenSSH has refused by default
   * since 8.8; off by default. RSA keys signed with rsa-sha2-256/512 need nothing.
   */
  readonly allowSshRsaSha1?: boolean;
  /** SSH-level keepalives, so a dead connection is noticed; default 15 s (0 turns them off). */
  readonly keepaliveIntervalMs?: number;
  /**
   * Asked when the host's key is not in known_hosts (never when a known key changed): true
   * trusts it for this run and appends it to known_hosts, as OpenSSH's "yes" does.
   */
  readonly confirmUnknownHostKey?: (question: UnknownHostKey) => Promise<boolean>;
};

export type UnknownHostKey = { readonly host: string; readonly port: number; readonly fingerprint: string; readonly keyType: string };

const defaultKeyFiles = ['id_ed25519', 'id_ecdsa', 'id_rsa'] as const;

export async function connectSsh(options: SshConnectOptions): Promise<SshTransport> {
  const port = options.port ?? 22;
  if (options.acceptHostKey !== undefined) checkFingerprintOption(options.acceptHostKey);
  const endpoint = { host: options.host, port, user: options.user };
  const knownHostsFile = options.knownHostsFile ?? join(homedir(), '.ssh', 'known_hosts');
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const entries = await loadKnownHosts(knownHostsFile).catch((error: unknown) => {
    throw new DeployError(
      'host-key',
      `Cannot read ${knownHostsFile} to check the host key of ${options.host}:${port}: ${(error as Error).message}`,
      { cause: error },
    );
  });
  const auth = await authMethods(options);
  const context: AuthContext = { ...endpoint, triedKeys: auth.triedKeys, agent: auth.agent, skipped: auth.skipped };
  if (auth.methods.length === 0)
    throw noKeyError(
      endpoint,
      defaultKeyFiles.map((name) => join(homedir(), '.ssh', name)),
      auth.skipped,
    );

  let refusal: DeployError | undefined;
  // Set once the server has shown its host key: the algorithms were agreed on.
  let keyPresented = false;
  // The verifier's result is ignored by ssh2: returning verify()'s is only a short way to stop.
  const hostVerifier = (key: Buffer, verify: (accepted: boolean) => void) => {
    keyPresented = true;
    const verdict: HostKeyVerdict = checkHostKey(entries, options.host, port, key);
    if (verdict.status === 'known') return verify(true);
    const presented = fingerprint(key);
    if (verdict.status === 'unknown' && options.acceptHostKey !== undefined && sameFingerprint(options.acceptHostKey, presented))
      return verify(true);
    refusal = hostKeyError(endpoint, verdict, presented, knownHostsFile);
    if (verdict.status !== 'unknown' || options.confirmUnknownHostKey === undefined) return verify(false);
    const keyType = keyTypeOf(key) ?? 'unknown';
    options
      .confirmUnknownHostKey({ host: options.host, port, fingerprint: presented, keyType })
      .then(async (trusted) => {
        if (!trusted) return verify(false);
        refusal = undefined;
        await appendKnownHost(knownHostsFile, options.host, port, keyType, key).catch(() => {
          // Trusted for this run even if known_hosts cannot be written; the next run asks again.
        });
        verify(true);
      })
      .catch(() => verify(false));
  };

  const acceptedHostKeyAlgorithms = hostKeyPreference(entries, options.host, port, options.allowSshRsaSha1 ?? false);
  const client = new ssh2.Client();
  const config: ConnectConfig = {
    host: options.host,
    port,
    username: options.user,
    // A person answering the host key question needs longer than a handshake does.
    readyTimeout: options.confirmUnknownHostKey ? Math.max(readyTimeoutMs, 300_000) : readyTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
    keepaliveCountMax: 4,
    hostVerifier,
    authHandler: auth.methods,
    algorithms: { serverHostKey: acceptedHostKeyAlgorithms },
  };

  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const settle = (error?: DeployError) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      client.removeListener('close', onClose);
      if (error === undefined) {
        resolve();
      } else {
        client.removeListener('error', onError);
        // Keep swallowing late errors from the dying connection.
        client.on('error', () => {});
        client.destroy();
        reject(error);
      }
    };
    const onReady = () => settle();
    // Stays attached once ready, a no-op by then: the transport adds its own error listener, and
    // ssh2 must never emit 'error' with no listener at all (that would crash the process).
    const onError = (error: Error & { level?: string }) => {
      // ssh2 reports an unusable agent or key and then goes on with the next method.
      if (error.level === 'agent') return;
      if (error.level === 'client-authentication' && !/All configured authentication methods failed/.test(error.message)) return;
      const failure = refusal ?? classifyConnectError(error, { ...context, readyTimeoutMs });
      const resetEarly = (error as NodeJS.ErrnoException).code === 'ECONNRESET' && !keyPresented;
      if (/no matching host key format/.test(error.message) || resetEarly) explainThen(failure, error);
      else settle(failure);
    };
    const onClose = () => {
      const failure =
        refusal ?? new DeployError('unreachable', `The SSH server at ${options.host}:${port} closed the connection during login.`);
      if (keyPresented) settle(failure);
      else explainThen(failure, undefined);
    };
    // A handshake that ends before the server showed its key may have found no host key
    // algorithm in common: which side noticed first decides whether we see ssh2's "no matching
    // host key format" or the server closing on us. Ask the server what it offers (a second,
    // short handshake that trusts nothing) and say so when that was the cause.
    let explaining = false;
    const explainThen = (failure: DeployError, cause: unknown) => {
      if (explaining) return;
      explaining = true;
      const accepted = new Set<string>(acceptedHostKeyAlgorithms);
      void offeredHostKeyFormats(options.host, port, readyTimeoutMs).then((offered) =>
        settle(
          offered.length > 0 && !offered.some((format) => accepted.has(format))
            ? noCommonHostKeyAlgorithm(endpoint, offered, cause)
            : failure,
        ),
      );
    };
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('close', onClose);
    try {
      client.connect(config);
      // Each command or SFTP call is a small request waiting for a small answer: without this,
      // Nagle and delayed ACKs add ~40 ms to every round trip.
      client.setNoDelay(true);
    } catch (error) {
      settle(
        new DeployError('unreachable', `Cannot start an SSH connection to ${options.host}:${port}: ${(error as Error).message}`, {
          cause: error,
        }),
      );
    }
  });

  return new SshTransport(client, `${options.user}@${options.host}:${port}`);
}

/** Appends `[host]:port type base64` (or `host type base64` on port 22) to known_hosts. */
async function appendKnownHost(file: string, host: string, port: number, keyType: string, key: Buffer): Promise<void> {
  const name = port === 22 ? host : `[${host}]:${port}`;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await appendFile(file, `${name} ${keyType} ${key.toString('base64')}\n`, { mode: 0o600 });
}

function sameFingerprint(given: string, presented: string): boolean {
  const normal = (value: string) =>
    value
      .trim()
      .replace(/^SHA256:/i, '')
      .replace(/=+$/, '');
  return normal(given) === normal(presented);
}

type AuthMethods = {
  /** Tried in this order: the given key, the agent, then the default key files. */
  methods: (PublicKeyAuthMethod | AgentAuthMethod)[];
  triedKeys: string[];
  skipped: string[];
  agent: string | undefined;
};

async function authMethods(options: SshConnectOptions): Promise<AuthMethods> {
  const result: AuthMethods = { methods: [], triedKeys: [], skipped: [], agent: undefined };
  const username = options.user;
  const addKey = (path: string, key: Buffer) => {
    result.methods.push({
      type: 'publickey',
      username,
      key,
      ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    });
    result.triedKeys.push(path);
  };

  if (options.identityFile !== undefined) {
    const key = (await readKey(options.identityFile, options.passphrase)) ?? 'it does not exist';
    if (typeof key === 'string') throw new DeployError('auth', `Cannot use the identity file ${options.identityFile}: ${key}`);
    addKey(options.identityFile, key);
  }
  const agent = options.agent === undefined ? process.env.SSH_AUTH_SOCK : options.agent;
  if (typeof agent === 'string' && agent !== '') {
    result.methods.push({ type: 'agent', username, agent });
    result.agent = agent;
  }
  if (options.identityFile === undefined) {
    for (const name of defaultKeyFiles) {
      const path = join(homedir(), '.ssh', name);
      const key = await readKey(path, options.passphrase);
      if (key === undefined) continue;
      if (typeof key === 'string') result.skipped.push(`${path} (${key})`);
      else addKey(path, key);
    }
  }
  return result;
}

/** The key file's bytes when ssh2 can use it; a reason when not; undefined when it does not exist. */
async function readKey(path: string, passphrase: string | undefined): Promise<Buffer | string | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return (error as Error).message;
  }
  const parsed = ssh2.utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    if (/passphrase/i.test(parsed.message) && passphrase === undefined) {
      return `it is encrypted; give its passphrase or load it into ssh-agent (ssh-add ${path})`;
    }
    return parsed.message;
  }
  return data;
}
