import type { Colour } from './colours.js';
import { mtimeShellFunction } from '../host/host-clock.js';
import type { HostLayout } from '../host/layout.js';
import { heldReport } from '../host/lock.js';
import { arg, script } from '../remote/quote.js';

/**
 * The one script a status sample runs on the host per tick: everything the dashboard and
 * `monitor` read from files and /proc comes back in one round trip. Each part of the answer
 * starts on a line of its own with a random boundary word and the part's name; the access log's
 * new bytes come last, raw, so nothing in them is ever read as a boundary.
 *
 * Reads are bounded: audit.log's last lines only when its size changed, the access log from the
 * offset of the previous tick (a first look reads its last `firstLookBytes`; more than
 * `maxBytes` appended since is skipped and counted), and /proc's stat lines once for both trees.
 */

export type SampleScriptRequest = {
  readonly boundary: string;
  readonly layout: HostLayout;
  readonly upstreamFile: string;
  /** Per colour, a script that prints its main pid or exits non-zero (Supervisor.mainPidScript). */
  readonly pidScripts: Readonly<Record<Colour, string>>;
  /** audit.log's size at the previous tick (-1 at the first): its lines are sent only when it changed. */
  readonly auditSize: number;
  readonly auditLines: number;
  readonly accessLog: AccessLogCursor | null;
};

export type AccessLogCursor = {
  readonly file: string;
  /** Where the previous tick stopped; -1 for a first look. */
  readonly offset: number;
  /** The file's inode at the previous tick ('' at first): another inode means it was rotated. */
  readonly inode: string;
  readonly firstLookBytes: number;
  readonly maxBytes: number;
};

/**
 * Per process tree (the server and all its descendants): the root's start time, its CPU time
 * in clock ticks, its resident memory in pages, how many processes. Field numbers are those of
 * proc(5) for /proc/<pid>/stat, counted after the command name, which may hold spaces.
 */
const processTreeAwk = `{
  line = $0; pid = $1; sub(/^.*\\) /, "", line); split(line, f, " ")
  cpu[pid] = f[12] + f[13]; rss[pid] = f[22]; start[pid] = f[20]; kids[f[2]] = kids[f[2]] " " pid
}
function walk(p,   k, m, j) {
  if (count >= 5000) return
  count++; total += cpu[p]; mem += rss[p]
  m = split(kids[p], k, " ")
  for (j = 1; j <= m; j++) walk(k[j])
}
END {
  n = split(roots, r, " ")
  for (i = 1; i <= n; i++) {
    if (!(r[i] in cpu)) continue
    count = 0; total = 0; mem = 0; walk(r[i])
    print r[i], start[r[i]], total, mem, count
  }
}`;

/**
 * The script's text and the values it reads from its environment (paths, offsets, the pid
 * scripts): values never become script text, so a path with a quote in it is only a path.
 */
export function sampleScript(request: SampleScriptRequest): { readonly script: string; readonly env: Record<string, string> } {
  const { layout } = request;
  const integer = (value: number) => String(Math.max(-1, Math.floor(value)));
  const env: Record<string, string> = {
    B: request.boundary,
    mcpd_state: layout.stateFile,
    mcpd_upstream: request.upstreamFile,
    mcpd_pid_blue: request.pidScripts.blue,
    mcpd_pid_green: request.pidScripts.green,
    mcpd_audit: layout.auditLog,
    mcpd_audit_size: integer(request.auditSize),
  };
  const lines = [
    mtimeShellFunction,
    `printf '%s clock\\n' "$B"; date +%s.%N; getconf CLK_TCK 2>/dev/null || echo 100; getconf PAGESIZE 2>/dev/null || echo 4096`,
    `printf '\\n%s state\\n' "$B"; cat -- "$mcpd_state" 2>/dev/null`,
    `printf '\\n%s upstream\\n' "$B"; cat -- "$mcpd_upstream" 2>/dev/null`,
    // heldReport ends with `exit 0` when the lock is held: a subshell keeps the script going.
    `printf '\\n%s lock\\n' "$B"; ( ${script(...heldReport(layout))} printf 'free\\n'; )`,
    // Each pid script runs in a shell of its own: its `exit` ends only itself.
    'pid_blue=$(sh -c "$mcpd_pid_blue" 2>/dev/null) || pid_blue=',
    'pid_green=$(sh -c "$mcpd_pid_green" 2>/dev/null) || pid_green=',
    `printf '\\n%s pids %s %s\\n' "$B" "\${pid_blue:--}" "\${pid_green:--}"`,
    `printf '\\n%s procs\\n' "$B"; cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$pid_blue $pid_green" ${script(arg(processTreeAwk))}`,
    `s=$(wc -c < "$mcpd_audit" 2>/dev/null | tr -d ' '); [ -n "$s" ] || s=0; printf '\\n%s audit %s\\n' "$B" "$s"`,
    `if [ "$s" != "$mcpd_audit_size" ]; then tail -n ${Math.max(1, Math.floor(request.auditLines))} -- "$mcpd_audit" 2>/dev/null; fi`,
  ];
  const cursor = request.accessLog;
  if (cursor !== null) {
    Object.assign(env, {
      mcpd_access: cursor.file,
      mcpd_offset: integer(cursor.offset),
      mcpd_inode: cursor.inode,
      mcpd_first: integer(cursor.firstLookBytes),
      mcpd_max: integer(cursor.maxBytes),
    });
    lines.push(accessLogPart);
  }
  return { script: lines.join('\n'), env };
}

const accessLogPart = `f=$mcpd_access; o=$mcpd_offset; max=$mcpd_max
if [ -r "$f" ]; then
  s=$(wc -c < "$f" | tr -d ' '); ino=$(stat -c %i -- "$f" 2>/dev/null || ls -i -- "$f" | awk '{print $1}')
  if [ "$o" -lt 0 ]; then o=$((s - mcpd_first)); [ "$o" -lt 0 ] && o=0
  elif [ "$ino" != "$mcpd_inode" ] || [ "$s" -lt "$o" ]; then o=0; fi
  skipped=0
  if [ $((s - o)) -gt "$max" ]; then skipped=$((s - max - o)); o=$((s - max)); fi
  printf '\\n%s access %s %s %s %s\\n' "$B" "$s" "$o" "$skipped" "$ino"
  tail -c +$((o + 1)) -- "$f" | head -c $((s - o))
else
  printf '\\n%s access unreadable\\n' "$B"
fi`;

export type ScriptParts = {
  /** Host time, epoch seconds (with fractions where `date` gives them). */
  readonly now: number;
  readonly clockTicks: number;
  readonly pageSize: number;
  readonly state: string;
  readonly upstream: string;
  /** What heldReport printed, or `free`. */
  readonly lock: string;
  readonly pids: Readonly<Record<Colour, number | null>>;
  readonly trees: ReadonlyMap<number, ProcessTree>;
  readonly audit: { readonly size: number; readonly lines: readonly string[] };
  readonly access: AccessRead | null;
};

export type ProcessTree = {
  readonly pid: number;
  /** The root's start time in clock ticks since boot: a new value for the same pid is a new process. */
  readonly startTicks: number;
  readonly cpuTicks: number;
  readonly rssPages: number;
  readonly processes: number;
};

export type AccessRead =
  | { readonly readable: false }
  | {
      readonly readable: true;
      readonly size: number;
      readonly from: number;
      /** Bytes appended since the previous tick that were not read (more than maxBytes). */
      readonly skipped: number;
      readonly inode: string;
      readonly text: string;
    };

/** Splits the script's answer into its parts. Pure; a part that is missing reads as empty. */
export function parseSampleOutput(stdout: string, boundary: string): ScriptParts {
  const marker = `${boundary} `;
  const sections = new Map<string, { header: string[]; body: string }>();
  const accessAt = stdout.indexOf(`\n${marker}access `);
  const head = accessAt < 0 ? stdout : stdout.slice(0, accessAt);
  const chunks = `\n${head}`.split(`\n${marker}`).slice(1);
  if (accessAt >= 0) chunks.push(stdout.slice(accessAt + 1 + marker.length));
  for (const chunk of chunks) {
    const newline = chunk.indexOf('\n');
    const headerLine = newline < 0 ? chunk : chunk.slice(0, newline);
    const body = newline < 0 ? '' : chunk.slice(newline + 1);
    const [name = '', ...header] = headerLine.split(' ');
    sections.set(name, { header, body });
  }
  const [clock = '', ticks = '', page = ''] = (sections.get('clock')?.body ?? '').split('\n');
  // busybox date has no %N and prints it as is: the seconds are still right.
  const now = Number.parseFloat(clock);
  const pidHeader = sections.get('pids')?.header ?? [];
  const pidOf = (text: string | undefined) => {
    const pid = Number(text);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  };
  const trees = new Map<number, ProcessTree>();
  for (const line of (sections.get('procs')?.body ?? '').split('\n')) {
    const [pid, startTicks, cpuTicks, rssPages, processes] = line.trim().split(' ').map(Number);
    if (pid === undefined || !Number.isInteger(pid) || [startTicks, cpuTicks, rssPages, processes].some((n) => !Number.isFinite(n)))
      continue;
    trees.set(pid, { pid, startTicks: startTicks!, cpuTicks: cpuTicks!, rssPages: rssPages!, processes: processes! });
  }
  const audit = sections.get('audit');
  return {
    now: Number.isFinite(now) ? now : Date.now() / 1000,
    clockTicks: Number(ticks) > 0 ? Number(ticks) : 100,
    pageSize: Number(page) > 0 ? Number(page) : 4096,
    state: sections.get('state')?.body.replace(/\n$/, '') ?? '',
    upstream: sections.get('upstream')?.body ?? '',
    lock: sections.get('lock')?.body.replace(/\n$/, '') ?? 'free',
    pids: { blue: pidOf(pidHeader[0]), green: pidOf(pidHeader[1]) },
    trees,
    audit: {
      size: Number(audit?.header[0]) || 0,
      lines: (audit?.body ?? '').split('\n').filter((line) => line.trim() !== ''),
    },
    access: parseAccess(sections.get('access')),
  };
}

function parseAccess(section: { header: string[]; body: string } | undefined): AccessRead | null {
  if (section === undefined) return null;
  const [size, from, skipped, inode = ''] = section.header;
  if (size === 'unreadable' || size === undefined) return { readable: false };
  const numbers = [size, from, skipped].map(Number);
  if (numbers.some((n) => !Number.isFinite(n))) return { readable: false };
  return { readable: true, size: numbers[0]!, from: numbers[1]!, skipped: numbers[2]!, inode, text: section.body };
}
