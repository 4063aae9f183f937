import { DeployError } from '../errors.js';
import { hostLayout } from '../host/layout.js';
import { readState } from '../host/state.js';
import type { Transport } from '../remote/transport.js';
import type { LogSource } from '../run/events.js';
import type { EngineContext } from './context.js';

export type LogRequest = {
  /** nginx's error log instead of a server's. */
  readonly nginx?: boolean;
  /** How many existing lines to start with. */
  readonly lines?: number;
  /** Keep following (`tail -F`) until `signal` aborts. */
  readonly follow?: boolean;
  /** First deliver a line naming the file and the host (for a pane that shows one log after another). */
  readonly announce?: boolean;
  readonly signal?: AbortSignal;
};

/** Which log `mcp-deploy logs` and the app's log pane show: nginx's error log, or the active release's server log. */
export async function chooseLogFile(
  context: Pick<EngineContext, 'target'>,
  transport: Transport,
  request: Pick<LogRequest, 'nginx'>,
): Promise<string> {
  const { target } = context;
  if (request.nginx) return target.nginx.errorLog;
  const state = await readState(transport, hostLayout(target.path));
  if (!state?.active) throw new DeployError('usage', `Nothing is deployed on ${target.name} yet, so there is no server log.`);
  return hostLayout(target.path).logFile(state.active.release);
}

/**
 * Streams a log from the host line by line: the last `lines`, then (with `follow`) what is
 * appended until `signal` aborts. Returns the file and the remote tail's exit code (null when it
 * was stopped).
 */
export async function streamLog(
  context: Pick<EngineContext, 'target'>,
  transport: Transport,
  request: LogRequest,
  onLine: (line: string, source: LogSource) => void,
): Promise<{ file: string; code: number | null }> {
  const file = await chooseLogFile(context, transport, request);
  const lines = String(Math.max(0, Math.floor(request.lines ?? 50)));
  const argv = request.follow ? ['tail', '-n', lines, '-F', file] : ['tail', '-n', lines, file];
  const own: LogSource = request.nginx ? 'nginx' : 'server';
  if (request.announce) onLine(`── ${file} on ${transport.label} ──`, 'engine');
  let denied = false;
  const result = await transport.stream(argv, {
    ...(request.signal ? { signal: request.signal } : {}),
    onLine: (line, stream) => {
      if (stream === 'stderr' && /permission denied/i.test(line)) denied = true;
      onLine(line, stream === 'stderr' ? 'engine' : own);
    },
  });
  if (denied && result.code !== 0) throw deniedError(file, transport.label, request.nginx === true);
  return { file, code: result.code };
}

function deniedError(file: string, host: string, nginx: boolean): DeployError {
  return new DeployError('host-state', `${file} on ${host} cannot be read by the SSH user: permission denied.`, {
    hint: nginx
      ? "nginx's logs belong to the adm group on Debian and Ubuntu: on the host, sudo usermod -aG adm <the SSH user>, then connect again; or set the target's nginx.errorLog to a log the user can read."
      : 'The server logs live under the deploy root: check its owner with mcp-deploy doctor.',
  });
}
