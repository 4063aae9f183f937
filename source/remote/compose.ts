import { command, quote } from './quote.js';
import type { RemoteCommand, RunOptions } from './transport.js';

/**
 * The full shell text a transport hands to `sh -c` (local) or to the remote login shell (ssh):
 * optional `cd`, exported environment, then the command. Both transports use this, so a command
 * behaves the same on the sandbox and over SSH.
 */
export function composeCommand(remote: RemoteCommand, options: Pick<RunOptions, 'cwd' | 'env'> = {}): string {
  const parts: string[] = [];
  if (options.cwd !== undefined) parts.push(`cd ${quote(options.cwd)}`);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a valid environment variable name: ${JSON.stringify(name)}`);
    parts.push(`export ${name}=${quote(value)}`);
  }
  parts.push(isScript(remote) ? `{ ${remote.script}\n}` : command(remote));
  return parts.join(' && ');
}

function isScript(remote: RemoteCommand): remote is { readonly script: string } {
  return !Array.isArray(remote);
}
