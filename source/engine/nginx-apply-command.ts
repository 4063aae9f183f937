import { commandTimedOut, type RemoteCommand, type Transport } from '../remote/transport.js';
import { putFileFailedCode, putFileFailedMarker, putFiles } from '../remote/file-commands.js';
import { command, op, script } from '../remote/quote.js';
import { settledMark, waitForOldWorkers, workersBeforeReload } from './nginx-settle.js';

/**
 * A routing change as one command: the includes written (each through a temporary file and a
 * rename), `nginx.test`, and only when it passed, `nginx.reload`. Each stage keeps a timeout of
 * its own as if it were a command of its own: the script marks on both outputs where the reload
 * begins, and the clock starts again there. What each stage printed is kept apart, so a failure
 * reads as it did when they were three commands. After a reload that passed, the same command
 * waits (about a second at most) until nginx's old workers have stopped accepting (nginx-settle.ts)
 * and says whether it saw that.
 */

/** How a stage ended: its exit status, or why it has none (it ran out of time, the connection went). */
export type StageOutcome =
  | { readonly kind: 'exit'; readonly code: number; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'error'; readonly error: Error };

export type ApplyOutcome =
  | { readonly stage: 'write'; readonly detail: string }
  | { readonly stage: 'test'; readonly test: StageOutcome }
  | {
      readonly stage: 'reload';
      readonly test: StageOutcome & { readonly kind: 'exit' };
      readonly reload: StageOutcome;
      /** The host saw every old worker stop accepting: the public URL shows the new configuration only. */
      readonly settled: boolean;
    };

const reloadMark = 'mcp-deploy-nginx-reload-starts';

export async function writeTestReload(
  transport: Transport,
  files: readonly { readonly path: string; readonly text: string; readonly mode: number }[],
  test: RemoteCommand,
  reload: RemoteCommand,
  timeoutMs: number,
  /** nginx's pid file, to tell when the old workers have stopped accepting after the reload. */
  pidFile?: string,
): Promise<ApplyOutcome> {
  const text = script(
    ...putFiles(files),
    op(`\n${asStage(test)}\nmcpd_status=$?; [ "$mcpd_status" -eq 0 ] || exit "$mcpd_status"\n`),
    op(pidFile === undefined ? 'mcpd_old_workers=\n' : workersBeforeReload(pidFile)),
    op(`printf '\\n%s\\n' ${reloadMark}; printf '\\n%s\\n' ${reloadMark} >&2\n${asStage(reload)}\n`),
    op(`mcpd_status=$?\n[ "$mcpd_status" -ne 0 ] || {\n${waitForOldWorkers()}\n}\nexit "$mcpd_status"`),
  );
  let settled = false;
  const lines = { test: { stdout: [] as string[], stderr: [] as string[] }, reload: { stdout: [] as string[], stderr: [] as string[] } };
  let stage: 'test' | 'reload' = 'test';
  let stderrStage: 'test' | 'reload' = 'test';
  const stop = new AbortController();
  let timedOut: 'test' | 'reload' | null = null;
  let timer = setTimeout(() => expire('test'), timeoutMs);
  const expire = (which: 'test' | 'reload') => {
    timedOut = which;
    stop.abort();
  };
  let outcome: { code: number | null } | Error;
  try {
    outcome = await transport.stream(
      { script: text },
      {
        signal: stop.signal,
        onLine: (line, stream) => {
          if (line === settledMark && stream === 'stdout' && stage === 'reload') {
            settled = true;
            return;
          }
          if (line === reloadMark) {
            if (stream === 'stdout' && stage === 'test') {
              stage = 'reload';
              clearTimeout(timer);
              timer = setTimeout(() => expire('reload'), timeoutMs);
            }
            if (stream === 'stderr') stderrStage = 'reload';
            return;
          }
          lines[stream === 'stdout' ? stage : stderrStage][stream].push(line);
        },
      },
    );
  } catch (error) {
    outcome = error instanceof Error ? error : new Error(String(error));
  } finally {
    clearTimeout(timer);
  }
  const printed = (which: 'test' | 'reload') => ({
    stdout: trimBlank(lines[which].stdout).join('\n'),
    stderr: trimBlank(lines[which].stderr).join('\n'),
  });
  if (stage === 'test' && !(outcome instanceof Error) && outcome.code === putFileFailedCode && lines.test.stdout[0] === putFileFailedMarker)
    return { stage: 'write', detail: printed('test').stderr || `exit ${outcome.code}` };
  const ended = (which: 'test' | 'reload'): StageOutcome => {
    if (timedOut === which) return { kind: 'error', error: commandTimedOut(timeoutMs) };
    if (outcome instanceof Error) return { kind: 'error', error: outcome };
    if (outcome.code === null) return { kind: 'error', error: new Error('the command was stopped') };
    return { kind: 'exit', code: outcome.code, ...printed(which) };
  };
  if (stage === 'test') return { stage: 'test', test: ended('test') };
  return { stage: 'reload', test: { kind: 'exit', code: 0, ...printed('test') }, reload: ended('reload'), settled };
}

/** A host command as a part of the script: a configured script runs in a subshell, so its own `exit` ends only itself. */
function asStage(remote: RemoteCommand): string {
  return 'script' in remote ? `(\n${remote.script}\n)` : command(remote as readonly string[]);
}

/** The blank line the marker is printed after (the output before it may not end in a newline). */
function trimBlank(lines: string[]): string[] {
  return lines.at(-1) === '' ? lines.slice(0, -1) : lines;
}
