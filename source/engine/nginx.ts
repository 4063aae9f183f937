import type { HostCommand } from '../config/schema.js';
import type { Target } from '../config/load.js';
import { DeployError, describeError } from '../errors.js';
import { catFiles, splitCatOutput } from '../remote/file-commands.js';
import { script } from '../remote/quote.js';
import { writeTestReload } from './nginx-apply-command.js';
import type { RemoteCommand, Transport } from '../remote/transport.js';
import { renderHttpInclude } from './nginx-http-include.js';
import { renderLocationInclude } from './nginx-location-include.js';
import { parseRouting, type Routing } from './nginx-routing.js';

/**
 * The nginx side of a cutover: two generated includes (the http-level upstreams and maps, the
 * location-level routing), rewritten atomically, checked with `nginx.test` before
 * `nginx.reload`. nginx's graceful reload keeps in-flight requests on the old workers while new
 * ones follow the new routing.
 */

/** The port the include sends new traffic to, or null when the file is absent or not ours. */
export function upstreamPort(text: string | null, name: string): number | null {
  if (text === null) return null;
  const block = new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`).exec(text);
  const server = block ? /server\s+127\.0\.0\.1:(\d+)/.exec(block[1] ?? '') : null;
  return server ? Number(server[1]) : null;
}

export function hostCommand(command: HostCommand): RemoteCommand {
  return typeof command === 'string' ? { script: command } : command;
}

/**
 * `nginx.test` with `-T` for `-t`: nginx's whole configuration, read with the same rights as the
 * test. What doctor and verify look at; through sudo it needs a sudoers entry of its own.
 */
export function dumpHostCommand(test: HostCommand): HostCommand {
  if (typeof test === 'string') {
    const dumped = test.replace(/(^|\s)-t(?=\s|$)/, '$1-T');
    return dumped === test ? 'nginx -T' : dumped;
  }
  const index = test.indexOf('-t');
  return index === -1 ? ['nginx', '-T'] : test.map((word, at) => (at === index ? '-T' : word));
}

export function dumpCommand(test: HostCommand): RemoteCommand {
  return hostCommand(dumpHostCommand(test));
}

/**
 * Whether nginx's configuration (`nginx -T`, run as nginx.test runs) reads the upstream include:
 * the last proof there is when no answer through the public URL names a colour or a release.
 * `unknown` when the dump cannot be had (no rights for -T, say).
 */
export async function nginxReadsInclude(transport: Transport, target: Target): Promise<'yes' | 'no' | 'unknown'> {
  const dump = await transport.run(dumpCommand(target.nginx.test), { timeoutMs: target.nginx.timeoutSeconds * 1000 }).catch(() => null);
  if (dump === null || dump.code !== 0) return 'unknown';
  return dump.stdout.includes(target.nginx.upstreamFile) ? 'yes' : 'no';
}

export type Includes = {
  readonly http: string | null;
  readonly location: string | null;
  /** Where new traffic goes, by the http include. */
  readonly port: number | null;
  /** null for an include that states no routing (written before sessions were pinned, or by hand). */
  readonly routing: Routing | null;
};

/** Both includes as they are on the host, read by one command. */
export async function readIncludes(transport: Transport, target: Target): Promise<Includes> {
  const paths = [target.nginx.upstreamFile, target.nginx.locationFile];
  const result = await transport.run({ script: script(...catFiles(paths)) }, { timeoutMs: 30_000 });
  if (result.code !== 0)
    throw new DeployError(
      'host-state',
      `Could not read ${paths.join(' and ')} on ${transport.label} (exit ${result.code}): ${result.stderr.trim()}`,
      {
        hint: 'Check the permissions of the nginx includes: mcp-deploy doctor checks them.',
      },
    );
  let files: Map<string, Buffer | null>;
  try {
    files = splitCatOutput(result.stdoutBytes, paths);
  } catch (error) {
    throw new DeployError('host-state', `Reading the nginx includes on ${transport.label}: ${(error as Error).message}.`);
  }
  return includesFrom(target, files.get(target.nginx.upstreamFile) ?? null, files.get(target.nginx.locationFile) ?? null);
}

/** The includes from their bytes as read on the host (null: the file does not exist). */
export function includesFrom(target: Target, http: Buffer | null, location: Buffer | null): Includes {
  const text = http === null ? null : http.toString('utf8');
  return {
    http: text,
    location: location === null ? null : location.toString('utf8'),
    port: upstreamPort(text, target.nginx.upstream),
    routing: parseRouting(text),
  };
}

/** Only the http include: where new traffic goes (what `status` and the host-state checks read). */
export async function readUpstream(transport: Transport, target: Target): Promise<{ text: string | null; port: number | null }> {
  const buffer = await transport.readFile(target.nginx.upstreamFile);
  const text = buffer === null ? null : buffer.toString('utf8');
  return { text, port: upstreamPort(text, target.nginx.upstream) };
}

/**
 * Makes nginx route as `routing` says. If nginx refuses the new config, or the test or reload
 * fails in any way (a non-zero exit, a timeout, a lost connection), both includes are put back as
 * they were (and reloaded) before the error travels up, so nginx is never left with files it did
 * not accept, nor the includes with a routing nginx never loaded.
 */
export async function applyRouting(
  transport: Transport,
  target: Target,
  app: string,
  routing: Routing,
  log: (line: string) => void = () => {},
  /** The includes as just read, to save reading them again. */
  known?: Includes,
): Promise<{
  readonly before: Includes;
  readonly after: Includes;
  /** The host saw nginx's old workers stop accepting (nginx-settle.ts): no need to wait reloadSettleMs. */
  readonly settled: boolean;
}> {
  const before = known ?? (await readIncludes(transport, target));
  const http = renderHttpInclude(target, app, routing);
  const location = renderLocationInclude(target, app);
  const timeoutMs = target.nginx.timeoutSeconds * 1000;
  const putBack = async (): Promise<string | null> => {
    try {
      await restore(transport, target.nginx.upstreamFile, before.http);
      if (location !== before.location) await restore(transport, target.nginx.locationFile, before.location);
      return null;
    } catch (error) {
      return describeError(error);
    }
  };
  const failed = (message: string, hint: string, unrestored: string | null) =>
    new DeployError('deploy', unrestored === null ? message : `${message}; putting the previous includes back failed too: ${unrestored}`, {
      hint:
        unrestored === null
          ? hint
          : `The includes on the host may still route to the new colour: check ${target.nginx.upstreamFile} and mcp-deploy status.`,
    });

  // One command: the includes written, nginx.test, and when it passed, the reload (nginx-apply-command.ts).
  const files = [
    { path: target.nginx.upstreamFile, text: http, mode: 0o644 },
    ...(location !== before.location ? [{ path: target.nginx.locationFile, text: location, mode: 0o644 }] : []),
  ];
  const applied = await writeTestReload(
    transport,
    files,
    hostCommand(target.nginx.test),
    hostCommand(target.nginx.reload),
    timeoutMs,
    target.nginx.pidFile,
  );
  if (applied.stage === 'write') {
    throw failed(
      `Could not write the nginx includes on ${transport.label}: ${applied.detail}`,
      'Check the free space and the permissions of the include files: mcp-deploy doctor checks them.',
      await putBack(),
    );
  }
  if (applied.stage === 'test') {
    const test = applied.test;
    const why =
      test.kind === 'error'
        ? `nginx.test did not finish: ${describeError(test.error)}`
        : `nginx.test exited ${test.code}: ${lastLines(test)}`;
    throw failed(
      `nginx refused the new upstream includes (${why})`,
      'The previous includes were restored. Check that the upstream include is inside http {}, the location include inside a location, and that nginx.test is the right command.',
      await putBack(),
    );
  }
  log(lastLines(applied.test) || 'nginx config test passed');
  const reload = applied.reload;
  if (reload.kind === 'error' || reload.code !== 0) {
    const unrestored = await putBack();
    // A reload that timed out may have happened after all: reload again, so nginx runs what the files say.
    if (unrestored === null) await transport.run(hostCommand(target.nginx.reload), { timeoutMs }).catch(() => {});
    throw failed(
      reload.kind === 'error'
        ? `nginx reload did not finish: ${describeError(reload.error)}`
        : `nginx reload failed (exit ${reload.code}): ${lastLines(reload)}`,
      reloadHint(reload.kind === 'error' ? '' : reload.stderr),
      unrestored,
    );
  }
  // What the host holds now, as written and accepted: a later change in the same run (under the
  // same lock) need not read it again.
  return { before, after: { http, location, port: upstreamPort(http, target.nginx.upstream), routing }, settled: applied.settled };
}

async function restore(transport: Transport, path: string, text: string | null): Promise<void> {
  if (text !== null) await transport.writeFileAtomic(path, text);
  else {
    const removed = await transport.run(['rm', '-f', path]);
    if (removed.code !== 0) throw new Error(`rm -f ${path}: ${removed.stderr.trim()}`);
  }
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
  return 'The previous includes were restored. Run the reload command on the host to see why it fails.';
}
