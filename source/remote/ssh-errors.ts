import { DeployError } from '../errors.js';
import type { HostKeyVerdict } from './known-hosts.js';

/**
 * Turns what ssh2 and the socket report into DeployErrors an operator can act on: each says
 * what failed, on which host, and the next thing to try.
 */

export type Endpoint = { readonly host: string; readonly port: number; readonly user: string };

const address = ({ host, port }: Endpoint) => `${host}:${port}`;

const unreachableReasons: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused. Is sshd running and the port right?',
  EHOSTUNREACH: 'no route to host. Is the address right and the host up?',
  ENETUNREACH: 'network unreachable. Is this machine online?',
  ENOTFOUND: 'no such host name. Is it spelled right?',
  EAI_AGAIN: 'the host name could not be resolved right now (DNS). Try again, or check the name.',
  ECONNRESET: 'the connection was reset during the handshake. Is that port an SSH server?',
  ETIMEDOUT: 'the connection attempt timed out. Is a firewall dropping it?',
};

export type AuthContext = Endpoint & {
  /** Key files offered, in order. */
  readonly triedKeys: readonly string[];
  /** The agent socket offered, if any. */
  readonly agent: string | undefined;
  /** Keys left out and why (e.g. encrypted without a passphrase). */
  readonly skipped: readonly string[];
};

/** Classifies an error ssh2 raised before the connection was ready. */
export function classifyConnectError(error: unknown, context: AuthContext & { readonly readyTimeoutMs: number }): DeployError {
  const { code, level, message } = describe(error);
  if (code !== undefined && code in unreachableReasons) {
    return new DeployError('unreachable', `Cannot reach ${address(context)}: ${unreachableReasons[code]}`, { cause: error });
  }
  if (level === 'client-timeout') {
    return new DeployError(
      'timeout',
      `Timed out after ${context.readyTimeoutMs} ms connecting to ${address(context)}: the SSH handshake did not complete. Is that port an SSH server, and is the host overloaded?`,
      { cause: error },
    );
  }
  if (level === 'client-authentication') return authError(context, error);
  return new DeployError('unreachable', `SSH connection to ${address(context)} failed: ${message}`, { cause: error });
}

/**
 * The handshake found no host key algorithm both sides accept. The usual cause is an old sshd
 * that signs only with ssh-rsa (RSA with SHA-1), which we refuse as OpenSSH does since 8.8.
 */
export function noCommonHostKeyAlgorithm(endpoint: Endpoint, offered: readonly string[], cause: unknown): DeployError {
  const where = address(endpoint);
  if (offered.length > 0 && offered.every((format) => format === 'ssh-rsa' || format === 'ssh-dss')) {
    return new DeployError(
      'host-key',
      `The SSH server at ${where} can sign its host key only with ${offered.join(', ')} (SHA-1), which mcp-deploy refuses, as OpenSSH does by default since 8.8.`,
      {
        hint: 'Best: give the host an ed25519 key (ssh-keygen -A) or a newer sshd. To accept it anyway, set "allowSshRsaSha1": true on the target.',
        cause,
      },
    );
  }
  return new DeployError(
    'host-key',
    `The SSH server at ${where} offers no host key algorithm mcp-deploy accepts${offered.length > 0 ? ` (it offers ${offered.join(', ')})` : ''}.`,
    { hint: 'mcp-deploy accepts ssh-ed25519, ecdsa-sha2-nistp256/384/521 and rsa-sha2-256/512 host keys.', cause },
  );
}

export function authError(context: AuthContext, cause?: unknown): DeployError {
  const offered = [...context.triedKeys, ...(context.agent === undefined ? [] : [`the ssh-agent at ${context.agent}`])];
  const tried = offered.length === 0 ? 'No key was offered' : `Tried ${offered.join(', ')}`;
  const skipped = context.skipped.length === 0 ? '' : ` Skipped: ${context.skipped.join('; ')}.`;
  const keyForCopy = context.triedKeys[0] === undefined ? '' : `-i ${context.triedKeys[0]}.pub `;
  return new DeployError(
    'auth',
    `Authentication as ${context.user} on ${address(context)} failed. ${tried}.${skipped} Install your public key on the host (e.g. ssh-copy-id ${keyForCopy}-p ${context.port} ${context.user}@${context.host}) or set the target's identityFile to the right key.`,
    cause === undefined ? {} : { cause },
  );
}

/** Nothing to authenticate with: no key file found and no agent. */
export function noKeyError(endpoint: Endpoint, looked: readonly string[], skipped: readonly string[]): DeployError {
  const skippedText = skipped.length === 0 ? '' : ` Skipped: ${skipped.join('; ')}.`;
  return new DeployError(
    'auth',
    `No SSH key to log in as ${endpoint.user} on ${address(endpoint)}: none of ${looked.join(', ')} can be used and no ssh-agent is available (SSH_AUTH_SOCK).${skippedText} Set the target's identityFile to the key to use.`,
  );
}

export function hostKeyError(
  endpoint: Endpoint,
  verdict: Exclude<HostKeyVerdict, { status: 'known' }>,
  presentedFingerprint: string,
  knownHostsFile: string,
): DeployError {
  const where = address(endpoint);
  switch (verdict.status) {
    case 'unknown': {
      const others =
        verdict.otherKeyTypes.length === 0
          ? ''
          : ` (${knownHostsFile} lists it only with other key types: ${verdict.otherKeyTypes.join(', ')})`;
      const keyscan = endpoint.port === 22 ? `ssh-keyscan ${endpoint.host}` : `ssh-keyscan -p ${endpoint.port} ${endpoint.host}`;
      return new DeployError(
        'host-key',
        `The host key of ${where} is not known${others}. Its fingerprint is ${presentedFingerprint} . If that is the right host, add it with: ${keyscan} >> ${knownHostsFile} (or pass --accept-host-key ${presentedFingerprint})`,
      );
    }
    case 'changed':
      return new DeployError(
        'host-key',
        `The host key of ${where} has CHANGED: ${knownHostsFile} (line ${verdict.lines.join(', ')}) knows ${verdict.knownFingerprints.join(', ')}, but the host presented ${presentedFingerprint}. Someone may be intercepting the connection, or the host was reinstalled. Refusing to connect. If the change is expected, remove the old key with: ssh-keygen -R ${endpoint.port === 22 ? endpoint.host : `'[${endpoint.host}]:${endpoint.port}'`} -f ${knownHostsFile}`,
      );
    case 'revoked':
      return new DeployError(
        'host-key',
        `The host key of ${where} (${presentedFingerprint}) is marked @revoked in ${knownHostsFile}. Refusing to connect.`,
      );
  }
}

export function connectionLost(label: string, during: string, cause?: unknown): DeployError {
  const reason = cause === undefined ? '' : ` (${describe(cause).message})`;
  return new DeployError('unreachable', `Connection to ${label} was lost during ${during}${reason}.`, cause === undefined ? {} : { cause });
}

function describe(error: unknown): { code: string | undefined; level: string | undefined; message: string } {
  if (error instanceof Error) {
    const details = error as Error & { code?: unknown; level?: unknown };
    return {
      code: typeof details.code === 'string' ? details.code : undefined,
      level: typeof details.level === 'string' ? details.level : undefined,
      message: error.message,
    };
  }
  return { code: undefined, level: undefined, message: String(error) };
}
