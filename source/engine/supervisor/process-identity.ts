import { randomBytes } from 'node:crypto';

/**
 * How the process supervisor knows that a pid is the server it started, before it signals it.
 * A pid file only records a number, and after a reboot or a crash that number can belong to any
 * process of the deploy user: nginx's master, another app's server. Signalling it on trust took
 * down nginx (issue #13). So `run/<colour>.pid` holds three words, `<pid> <start time> <token>`,
 * and a process is ours only when
 *
 * - its start time (field 22 of /proc/<pid>/stat, in clock ticks since boot) is the one recorded
 *   when it was started: a reused pid has another;
 * - its working directory is inside the deploy root's releases/ (or its executable inside the
 *   deploy root): where the start put it;
 * - its environment holds `MCP_DEPLOY_INSTANCE=<token>`, a random token given to this one start.
 *
 * A pid file written by an older mcp-deploy holds only the pid. Its process is ours when it runs
 * in a release folder, its RELEASE_ID names that release and its PORT is the colour's, so the
 * servers started before an upgrade can still be stopped by the first deploy after it (and the
 * other colour's server, which passes the first two, is not taken for this one).
 *
 * Anything else is reported and left alone.
 */

/** The environment variable that carries a start's token to the server. */
export const instanceVariable = 'MCP_DEPLOY_INSTANCE';

export function newInstanceToken(): string {
  return randomBytes(12).toString('hex');
}

/** Shell: `starttime PID` prints field 22 of /proc/PID/stat (after the command name, which may hold spaces and ')'). */
const startTimeFunction = `starttime() {
  mcpd_stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  mcpd_stat=\${mcpd_stat##*) }
  set -f; set -- $mcpd_stat; set +f
  [ "$#" -ge 20 ] || return 1
  shift 19; printf '%s\\n' "$1"
}`;

/**
 * A process is alive when it exists and is not a zombie: on hosts (and containers) whose init
 * does not reap orphans, a stopped server lingers as a zombie that `kill -0` still finds.
 */
const aliveFunction = `alive() {
  [ -r "/proc/$1/stat" ] || { kill -0 "$1" 2>/dev/null; return; }
  state=$(sed -n 's/.*) \\(.\\).*/\\1/p' "/proc/$1/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}`;

/**
 * Shell: `identify PIDFILE ROOT PORT` sets $pid from the pid file and returns 0 when its process
 * is the server we started, 1 when there is no live process to speak of, 2 when it is another
 * process ($why says why, $pid is its pid). ROOT is compared by its physical path, as the kernel
 * reports a process's working directory. PORT (the colour's; may be empty when unknown) is only
 * needed for a pid file of the older format.
 */
const identifyFunction = `identify() {
  pid= start= token= why=
  [ -f "$1" ] || return 1
  read -r pid start token mcpd_rest < "$1" || [ -n "$pid" ] || return 1
  case "$pid" in ''|*[!0-9]*) return 1;; esac
  alive "$pid" || return 1
  if [ -n "$token" ] && [ "$(starttime "$pid")" != "$start" ]; then
    why="it started at another time than the server recorded in the pid file (the pid was reused)"; return 2
  fi
  mcpd_root=$(cd "$2" 2>/dev/null && pwd -P) || mcpd_root=$2
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null)
  if [ -z "$cwd" ]; then why="its working directory cannot be read: a process of another user"; return 2; fi
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null)
  case "$cwd/" in
    "$mcpd_root"/releases/?*) ;;
    *) case "$exe" in "$mcpd_root"/*) ;; *) why="it runs in $cwd, outside the deploy root"; return 2;; esac;;
  esac
  if [ -n "$token" ]; then
    tr '\\000' '\\n' < "/proc/$pid/environ" 2>/dev/null | grep -qxF "${instanceVariable}=$token" && return 0
    why="its environment lacks the ${instanceVariable} token of the server recorded in the pid file"; return 2
  fi
  mcpd_release=\${cwd#"$mcpd_root"/releases/}; mcpd_release=\${mcpd_release%%/*}
  mcpd_env=$(tr '\\000' '\\n' < "/proc/$pid/environ" 2>/dev/null)
  if printf '%s\\n' "$mcpd_env" | grep -qxF "RELEASE_ID=$mcpd_release" && { [ -z "$3" ] || printf '%s\\n' "$mcpd_env" | grep -qxF "PORT=$3"; }; then return 0; fi
  why="the pid file (an older format) records no start time, and its environment does not name the release it runs in and this colour's port"; return 2
}`;

/** Everything a script needs to call `identify` (and `alive`, `starttime`). */
export const identityFunctions = [aliveFunction, startTimeFunction, identifyFunction].join('\n');

/**
 * Shell, after `identify` returned 2: prints `foreign <pid> <name>` and, on the next line, why.
 * The name (/proc/<pid>/comm) is what an operator recognises: "nginx", "python3".
 */
export const reportForeign = `printf 'foreign %s %s\\n%s\\n' "$pid" "$(head -c 32 "/proc/$pid/comm" 2>/dev/null | tr -d '\\n' | tr -c 'A-Za-z0-9._:-' '?')" "$why"`;

export type ForeignProcess = { readonly pid: number; readonly name: string; readonly why: string };

/** Parses what `reportForeign` printed, from a script's stdout; null when it printed nothing of the kind. */
export function parseForeign(stdout: string): ForeignProcess | null {
  const lines = stdout.split('\n');
  const index = lines.findIndex((line) => line.startsWith('foreign '));
  if (index === -1) return null;
  const [, pid, name = ''] = /^foreign (\d+) ?(.*)$/.exec(lines[index] ?? '') ?? [];
  if (pid === undefined) return null;
  return { pid: Number(pid), name, why: lines[index + 1]?.trim() ?? '' };
}

/** The operator's sentence for a pid file that names a process we did not start. */
export function describeForeign(pidFile: string, colour: string, found: ForeignProcess): string {
  return (
    `${pidFile} names pid ${found.pid}${found.name ? ` (${found.name})` : ''}, which is not the ${colour} server mcp-deploy started: ` +
    `${found.why}. It was left running; nothing was signalled.`
  );
}
