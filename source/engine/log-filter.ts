import { DeployError } from '../errors.js';
import { arg, op, script, type ScriptPart } from '../remote/quote.js';

/**
 * What `logs --grep`, `--since` and `--lines` make of a log on the host: the filtering runs
 * there, so only the lines asked for cross the wire, and the pattern and times reach the script
 * as environment variables, never as shell text.
 */

/** `--since`: so long before the host's now, or a moment in time. */
export type Since = { readonly secondsAgo: number } | { readonly epochSeconds: number };

export type LogFilter = {
  /** An extended regular expression (grep -E): only matching lines. */
  readonly grep?: string;
  readonly since?: Since;
  /** At most this many lines of what is already there (the last ones); null: all of them. */
  readonly lines: number | null;
  readonly follow: boolean;
};

const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * `30s`, `10m`, `2h`, `1d`, `1w` (before now, on the host's clock), or an ISO 8601 date or time
 * (`2026-11-24`, `2026-11-24T10:00`, `2026-11-24T10:00:00+01:00`); a time without a zone is UTC.
 */
export function parseSince(text: string): Since {
  const trimmed = text.trim();
  const ago = /^(\d{1,9})([smhdw])$/.exec(trimmed);
  if (ago?.[1] !== undefined && ago[2] !== undefined) return { secondsAgo: Number(ago[1]) * (units[ago[2]] ?? 1) };
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.test(trimmed)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed) || !/[T ]/.test(trimmed) ? trimmed : `${trimmed}Z`;
    const ms = Date.parse(zoned.replace(' ', 'T'));
    if (Number.isFinite(ms)) return { epochSeconds: Math.floor(ms / 1000) };
  }
  throw new DeployError(
    'usage',
    `--since ${JSON.stringify(text)}: expected a duration (30s, 10m, 2h, 1d) or a date and time (2026-11-24T10:00Z).`,
  );
}

/**
 * Lines stamped at or after $MCPD_SINCE (epoch seconds). A stamp is the line's start (after an
 * optional "["): `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` with optional fraction and zone,
 * or nginx's `YYYY/MM/DD HH:MM:SS`; a stamp without a zone is the host's local time ($MCPD_TZ,
 * `date +%z`). A line without a stamp (a traceback's) goes with the stamped line above it. Plain
 * POSIX awk: no mktime, the date is counted in days from 1970 (H. Hinnant's days_from_civil).
 */
export const sinceAwk = `function days(y, m, d,   era, yoe, doy) {
  y -= (m <= 2)
  era = int((y >= 0 ? y : y - 399) / 400)
  yoe = y - era * 400
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy - 719468
}
function zone(z,   sign) {
  if (z == "Z" || z == "z") return 0
  sign = substr(z, 1, 1) == "-" ? -1 : 1
  gsub(/:/, "", z)
  return sign * (substr(z, 2, 2) * 3600 + substr(z, 4, 2) * 60)
}
BEGIN { cutoff = ENVIRON["MCPD_SINCE"] + 0; local = zone(ENVIRON["MCPD_TZ"]); keep = 0 }
{
  s = $0
  if (substr(s, 1, 1) == "[") s = substr(s, 2)
  if (match(s, /^[0-9][0-9][0-9][0-9][-\\/][0-9][0-9][-\\/][0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]/)) {
    rest = substr(s, 20)
    sub(/^[.,][0-9]+/, "", rest)
    offset = match(rest, /^(Z|z|[+-][0-9][0-9]:?[0-9][0-9])/) ? zone(substr(rest, 1, RLENGTH)) : local
    t = days(substr(s, 1, 4) + 0, substr(s, 6, 2) + 0, substr(s, 9, 2) + 0) * 86400 + substr(s, 12, 2) * 3600 + substr(s, 15, 2) * 60 + substr(s, 18, 2) - offset
    keep = (t >= cutoff)
  }
  if (keep) print
}`;

/** Exit codes of the log script besides the tail's own. */
export const logExit = { noFile: 66, releaseWithoutLog: 67, noRelease: 68, badPattern: 69 } as const;

/** The environment the script reads its values from. */
export function logFilterEnv(filter: LogFilter): Record<string, string> {
  return {
    ...(filter.grep === undefined ? {} : { MCPD_GREP: filter.grep }),
    ...(filter.since !== undefined && 'epochSeconds' in filter.since ? { MCPD_SINCE: String(filter.since.epochSeconds) } : {}),
    ...(filter.since !== undefined && 'secondsAgo' in filter.since ? { MCPD_AGO: String(filter.since.secondsAgo) } : {}),
  };
}

/**
 * The script that prints the log `file` filtered, then (with `follow`) what is appended to it. With
 * `follow`, the file's size splits it in one look: the bytes before are history (filtered, the last
 * `lines`), the bytes after are followed (`tail -c +N -F`), so no line is shown twice or lost in
 * between. `releaseDir`, when given, tells a release that never started (no log) from no release.
 */
export function logScript(file: string, filter: LogFilter, releaseDir?: string): string {
  const history: ScriptPart[] = [];
  if (filter.since !== undefined) history.push(op('| awk'), arg(sinceAwk));
  if (filter.grep !== undefined) history.push(op('| grep -E -e "$MCPD_GREP"'));
  if (filter.lines !== null) history.push(op('| tail -n'), arg(String(filter.lines)));
  const missing =
    releaseDir !== undefined
      ? [
          op('if [ ! -e "$f" ]; then if [ -d'),
          arg(releaseDir),
          op(`]; then exit ${logExit.releaseWithoutLog}; fi; exit ${logExit.noRelease}; fi;`),
        ]
      : filter.follow
        ? [] // tail -F waits for a log that is not there yet
        : [op(`[ -e "$f" ] || exit ${logExit.noFile};`)];
  const since = filter.since;
  const clock =
    since === undefined
      ? []
      : [
          ...('secondsAgo' in since ? [op('MCPD_SINCE=$(( $(date -u +%s) - MCPD_AGO )); export MCPD_SINCE;')] : []),
          op('MCPD_TZ=$(date +%z); export MCPD_TZ;'),
        ];
  return script(
    op('set --'),
    arg(file),
    op('; f=$1;'),
    ...missing,
    // grep exits 2 on a pattern it cannot compile: say so once, before any line.
    ...(filter.grep === undefined
      ? []
      : [op(`grep -E -e "$MCPD_GREP" </dev/null >/dev/null; [ $? -lt 2 ] || exit ${logExit.badPattern};`)]),
    // A log we may not read: the reader's own message ("Permission denied") and exit 1, as tail would.
    op('if [ -e "$f" ] && [ ! -r "$f" ]; then cat -- "$f" >/dev/null; exit 1; fi;'),
    ...clock,
    ...(filter.follow
      ? [
          op(`size=0; if [ -e "$f" ]; then size=$(wc -c < "$f" | tr -d ' '); head -c "$size" -- "$f"`),
          ...history,
          op('; fi; tail -c +$((size + 1)) -F -- "$f"'),
          ...(filter.grep === undefined ? [] : [op('| grep --line-buffered -E -e "$MCPD_GREP"')]),
        ]
      : [op('if [ -e "$f" ]; then cat -- "$f"'), ...history, op('; fi; exit 0')]),
  );
}
