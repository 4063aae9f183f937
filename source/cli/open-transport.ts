import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Target } from '../config/load.js';
import { connectSsh } from '../remote/connect.js';
import { LocalTransport } from '../remote/local-transport.js';
import type { Transport } from '../remote/transport.js';

export type ConnectOptions = { readonly acceptHostKey?: string };

/** The transport a target names: ssh2 for real hosts, local for the sandbox. */
export async function openTransport(target: Target, options: ConnectOptions = {}): Promise<Transport> {
  if (target.transport === 'local') return new LocalTransport();
  return connectSsh({
    host: target.host!,
    port: target.port,
    user: target.user ?? defaultUser(),
    ...(target.identityFile ? { identityFile: expandHome(target.identityFile) } : {}),
    ...(target.knownHosts ? { knownHostsFile: expandHome(target.knownHosts) } : {}),
    ...(options.acceptHostKey ? { acceptHostKey: options.acceptHostKey } : {}),
  });
}

function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

function defaultUser(): string {
  return process.env['USER'] ?? process.env['LOGNAME'] ?? 'root';
}
