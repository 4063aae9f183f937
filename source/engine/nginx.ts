import type { HostCommand } from '../config/schema.js';
import type { Target } from '../config/load.js';
import { DeployError } from '../errors.js';
import type { RemoteCommand, Transport } from '../remote/transport.js';

/**
 * The nginx side of a cutover: one include file holding exactly one upstream block, rewritten
 * atomically, checked with `nginx.test` before `nginx.reload`. nginx's graceful reload keeps
 * in-flight requests on the old workers while new ones go to the new port.
 */

export function renderUpstream(name: string, port: number, app: string): string {
  return [
    `# Written by mcp-deploy for "${app}": the colour that serves traffic.`,
    '# Do not edit by hand; use `mcp-deploy rollback`. Include it inside http {} and proxy_pass to it.',
    `upstream ${name} {`,
    `    server 127.0.0.1:${port};`,
    '    keepalive 16;',
    '}',
    '',
  ].join('\n');
}

/** The port the include sends traffic to, or null when the file is absent or not ours. */
export function upstreamPort(text: string | null, name: string): number | null {
  if (text === null) return null;
  const block = new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`).exec(text);
  const server = block ? /server\s+127\.0\.0\.1:(\d+)/.exec(block[1] ?? '') : null;
  return server ? Number(server[1]) : null;
}

export function hostCommand(command: HostCommand): RemoteCommand {
  return typeof command === 'string' ? { script: command } : command;
}

export async function readUpstream(transport: Transport, target: Target): Promise<{ text: string | null; port: number | null }> {
  const buffer = await transport.readFile(target.nginx.upstreamFile);
  const text = buffer === null ? null : buffer.toString('utf8');
  return { text, port: upstreamPort(text, target.nginx.upstream) };
}

/**
 * Points the upstream at `port`. If nginx refuses the new config, or the reload fails, the old
 * include is put back (and reloaded) before the error travels up, so nginx is never left with a
 * config it did not accept.
 */
export async function switchUpstream(
  transport: Transport,
  target: Target,
  app: string,
  port: number,
  log: (line: string) => void = () => {},
): Promise<{ previousText: string | null }> {
  const { text: previousText } = await readUpstream(transport, target);
  await transport.writeFileAtomic(target.nginx.upstreamFile, renderUpstream(target.nginx.upstream, port, app));
  const test = await transport.run(hostCommand(target.nginx.test), { timeoutMs: 60_000 });
  if (test.code !== 0) {
    await restore(transport, target, previousText);
    throw new DeployError('deploy', `nginx refused the new upstream (nginx.test exited ${test.code}): ${lastLines(test)}`, {
      hint: 'The previous upstream was restored. Check that the include is inside http {} and that nginx.test is the right command.',
    });
  }
  log(lastLines(test) || 'nginx config test passed');
  const reload = await transport.run(hostCommand(target.nginx.reload), { timeoutMs: 60_000 });
  if (reload.code !== 0) {
    await restore(transport, target, previousText);
    await transport.run(hostCommand(target.nginx.reload), { timeoutMs: 60_000 });
    throw new DeployError('deploy', `nginx reload failed (exit ${reload.code}): ${lastLines(reload)}`, {
      hint: reloadHint(reload.stderr),
    });
  }
  return { previousText };
}

async function restore(transport: Transport, target: Target, previousText: string | null): Promise<void> {
  if (previousText !== null) await transport.writeFileAtomic(target.nginx.upstreamFile, previousText);
  else await transport.run(['rm', '-f', target.nginx.upstreamFile]);
}

function lastLines(result: { stdout: string; stderr: string }): string {
  return `${result.stderr}\n${result.stdout}`.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
}

function reloadHint(stderr: string): string {
  if (/a password is required|sudo:.*password/i.test(stderr)) {
    return 'sudo asked for a password: add a NOPASSWD sudoers rule for the reload command (mcp-deploy doctor shows it).';
  }
  if (/nginx\.pid|not running|No such process/i.test(stderr))
    return 'nginx does not seem to be running on the host: start it, then deploy again.';
  return 'The previous upstream was restored. Run the reload command on the host to see why it fails.';
}
