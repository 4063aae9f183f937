import { DeployError } from '../errors.js';
import { assertSafeReleaseId, hostLayout } from '../host/layout.js';
import { readState } from '../host/state.js';
import type { RemoteCommand, Transport } from '../remote/transport.js';
import type { LogSource } from '../run/events.js';
import type { EngineContext } from './context.js';
import { logExit, logFilterEnv, logScript, type Since } from './log-filter.js';

export type LogRequest = {
  /** nginx's error log instead of a server's. */
  readonly nginx?: boolean;
  /** This release's server log (a failed one, say) instead of the active release's. */
  readonly release?: string;
  /** How many existing lines to start with; null: every line (with `since`). */
  readonly lines?: number | null;
  /** Only lines matching this extended regular expression (grep -E). */
  readonly grep?: string;
  /** Only lines stamped at or after this (see log-filter.ts). */
  readonly since?: Since;
  /** Keep following (`tail -F`) until `signal` aborts. */
  readonly follow?: boolean;
  /** First deliver a line naming the file and the host (for a pane that shows one log after another). */
  readonly announce?: boolean;
  readonly signal?: AbortSignal;
};

/** Which log `mcp-deploy logs` and the app's log pane show: nginx's error log, a named release's log, or the active release's. */
export async function chooseLogFile(
  context: Pick<EngineContext, 'target'>,
  transport: Transport,
  request: Pick<LogRequest, 'nginx' | 'release'>,
): Promise<string> {
  const { target } = context;
  if (request.nginx && request.release !== undefined) {
    throw new DeployError('usage', '--nginx and --release name different logs; give one of them.');
  }
  if (request.nginx) return target.nginx.errorLog;
  const layout = hostLayout(target.path);
  if (request.release !== undefined) return layout.logFile(assertSafeReleaseId(request.release));
  const state = await readState(transport, layout);
  if (!state?.active) throw new DeployError('usage', `Nothing is deployed on ${target.name} yet, so there is no server log.`);
  return layout.logFile(state.active.release);
}

/**
 * Streams a log from the host line by line: the last `lines` (matching `grep`, since `since`),
 * then (with `follow`) what is appended until `signal` aborts. Returns the file and the remote
 * command's exit code (null when it was stopped).
 */
export async function streamLog(
  context: Pick<EngineContext, 'target'>,
  transport: Transport,
  request: LogRequest,
  onLine: (line: string, source: LogSource) => void,
): Promise<{ file: string; code: number | null }> {
  const file = await chooseLogFile(context, transport, request);
  const lines = request.lines === null ? null : Math.max(0, Math.floor(request.lines ?? 50));
  const filtered = request.grep !== undefined || request.since !== undefined || request.release !== undefined;
  const filter = { ...request, lines, follow: request.follow ?? false };
  const command: RemoteCommand = filtered
    ? {
        script: logScript(
          file,
          filter,
          request.release === undefined ? undefined : hostLayout(context.target.path).releaseDir(request.release),
        ),
      }
    : request.follow
      ? ['tail', '-n', String(lines ?? 50), '-F', file]
      : ['tail', '-n', String(lines ?? 50), file];
  const own: LogSource = request.nginx ? 'nginx' : 'server';
  if (request.announce) onLine(`── ${file} on ${transport.label} ──`, 'engine');
  let denied = false;
  const result = await transport.stream(command, {
    longRunning: request.follow === true,
    ...(request.signal ? { signal: request.signal } : {}),
    ...(filtered ? { env: logFilterEnv(filter) } : {}),
    onLine: (line, stream) => {
      if (stream === 'stderr' && /permission denied/i.test(line)) denied = true;
      onLine(line, stream === 'stderr' ? 'engine' : own);
    },
  });
  if (denied && result.code !== 0) throw deniedError(file, transport.label, request.nginx === true);
  if (result.code === logExit.noRelease) {
    throw new DeployError('usage', `There is no release ${request.release} on ${transport.label}.`, {
      hint: 'List them with: mcp-deploy releases',
    });
  }
  if (result.code === logExit.releaseWithoutLog) {
    throw new DeployError('usage', `Release ${request.release} has no server log on ${transport.label}: it never started.`, {
      hint: 'Its upload or install failed before a server ran; mcp-deploy releases shows why.',
    });
  }
  if (result.code === logExit.badPattern) {
    throw new DeployError('usage', `--grep ${JSON.stringify(request.grep)}: grep -E on ${transport.label} cannot read that pattern.`, {
      hint: 'An extended regular expression, as grep -E takes it: error|warn, "POST /mcp 5..".',
    });
  }
  if (result.code === logExit.noFile) throw new DeployError('host-state', `${file} is not on ${transport.label} (yet).`);
  return { file, code: result.code };
}

function deniedError(file: string, host: string, nginx: boolean): DeployError {
  return new DeployError('host-state', `${file} on ${host} cannot be read by the SSH user: permission denied.`, {
    hint: nginx
      ? "nginx's logs belong to the adm group on Debian and Ubuntu: on the host, sudo usermod -aG adm <the SSH user>, then connect again; or set the target's nginx.errorLog to a log the user can read."
      : 'The server logs live under the deploy root: check its owner with mcp-deploy doctor.',
  });
}
