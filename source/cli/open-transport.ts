import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../config/load.js';
import { connectSsh, type UnknownHostKey } from '../remote/connect.js';
import { LocalTransport } from '../remote/local-transport.js';
import type { Transport } from '../remote/transport.js';

export type ConnectOptions = {
  readonly acceptHostKey?: string;
  /** Asks a person whether to trust a host key that is not known yet; absent in CI and with --yes. */
  readonly confirmUnknownHostKey?: (question: UnknownHostKey) => Promise<boolean>;
};

/** The transport a target names: ssh2 for real hosts, local for the sandbox. */
export async function openTransport(target: Target, options: ConnectOptions = {}): Promise<Transport> {
  if (target.transport === 'local') return new LocalTransport();
  return connectSsh({
    host: target.host!,
    port: target.port,
    user: target.user ?? defaultUser(),
    ...(target.identityFile ? { identityFile: expandHome(target.identityFile) } : {}),
    ...(target.knownHosts ? { knownHostsFile: expandHome(target.knownHosts) } : {}),
    ...(target.allowSshRsaSha1 ? { allowSshRsaSha1: true } : {}),
    ...(options.acceptHostKey ? { acceptHostKey: options.acceptHostKey } : {}),
    ...(options.confirmUnknownHostKey ? { confirmUnknownHostKey: options.confirmUnknownHostKey } : {}),
  });
}

function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

function defaultUser(): string {
  return process.env['USER'] ?? process.env['LOGNAME'] ?? 'root';
}
