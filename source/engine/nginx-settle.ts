import { arg, op, script } from '../remote/quote.js';

/**
 * After a reload, how the host tells when nginx's old workers have stopped accepting: until then
 * a new connection can still land on one of them and be proxied by the old configuration, so the
 * engine waited a fixed reloadSettleMs (1 s) before trusting the public URL. nginx's master starts
 * the new workers, waits 100 ms, then tells the old ones to quit; a worker that is told renames
 * itself "worker process is shutting down" and closes its listening sockets in the same moment.
 * So: the master's workers are listed before the reload (by `nginx.pidFile`), and after it the
 * host looks every 25 ms until the master has a worker that is new and none of the old ones still
 * serves. Bounded by about reloadSettleMs; without a readable pid file, `ps` or fractional
 * `sleep` it says nothing, and the engine waits the fixed time as before.
 */

export const settledMark = 'mcp-deploy-nginx-settled';

/** How the switch's log says it saw them stop (the bench looks for it). */
export const settledLine = "nginx's old workers have stopped accepting";

/** Most looks: 25 ms apart plus `ps`, about the fixed wait this replaces. */
const maxLooks = 28;

/** Lists the master's serving workers as `mcpd_old_workers`, before the reload. */
export function workersBeforeReload(pidFile: string): string {
  return script(
    op('mcpd_master=$(cat --'),
    arg(pidFile),
    op('2>/dev/null)\n'),
    op(
      [
        'mcpd_workers() {',
        '  ps -e -o pid= -o ppid= -o args= 2>/dev/null | awk -v m="$mcpd_master" -v old=" $1 " \'',
        '    $2 == m && $3 == "nginx:" && $4 == "worker" && $5 == "process" && $6 != "is" { if (index(old, " " $1 " ")) stale = 1; else fresh = 1; print $1 }',
        '    END { print ((fresh && !stale) ? "settled" : "waiting") }\'',
        '}',
        'case $mcpd_master in "" | *[!0-9]*) mcpd_old_workers= ;; *) mcpd_old_workers=$(mcpd_workers "" | sed \'$d\' | tr "\\n" " ") ;; esac',
        '',
      ].join('\n'),
    ),
  );
}

/** After a reload that exited 0: prints settledMark once the old workers stopped accepting, nothing if that was not seen. */
export function waitForOldWorkers(): string {
  return [
    'if [ -n "$mcpd_old_workers" ]; then',
    '  mcpd_look=0',
    `  while [ "$mcpd_look" -lt ${maxLooks} ]; do`,
    `    if [ "$(mcpd_workers "$mcpd_old_workers" | tail -n 1)" = settled ]; then printf '\\n%s\\n' ${settledMark}; break; fi`,
    '    sleep 0.025 2>/dev/null || break',
    '    mcpd_look=$((mcpd_look + 1))',
    '  done',
    'fi',
  ].join('\n');
}
