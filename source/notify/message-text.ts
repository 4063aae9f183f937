import { type AlertNotification, isAlert, type Message, type Notification } from './notification.js';

/**
 * The words of a notification, shared by every channel so Slack, Discord and email never tell
 * the same run differently. Plain text; each channel escapes it for its own markup.
 */

const marks = { start: '▶', success: '✔', failure: '✖', rollback: '↩' } as const;

/** One line that says it all, such as "✖ ontology → production: deploy failed at health". */
export function headline(n: Message): string {
  if (isAlert(n)) return alertHeadline(n);
  const where = `${n.app} → ${n.target ?? '(no target)'}`;
  const release = n.release ?? 'a new release';
  return `${n.ok === false && n.rollback?.phase === 'failed' ? marks.failure : marks[n.event]} ${where}: ${summary(n, release)}`;
}

function summary(n: Notification, release: string): string {
  if (n.event === 'start') return n.operation === 'deploy' ? `deploy of ${release} started` : `rollback to ${release} started`;
  if (n.ok) return n.operation === 'deploy' ? `deployed ${release}` : `rolled back to ${release}`;
  const failed = `${n.operation} failed at ${n.error?.step ?? 'an unknown step'}`;
  if (n.rollback?.phase === 'failed') return `${failed}, and the automatic rollback failed too`;
  // The 'rollback' kind is chosen only when 'failure' is not wanted: say the failure all the same.
  if (n.event === 'rollback') return `${failed}, rolled back`;
  return failed;
}

/** The lines under the headline: what went wrong, what serves now, who, how long. */
export function detailLines(n: Message): string[] {
  if (isAlert(n)) return alertLines(n);
  const lines: string[] = [];
  if (n.error) lines.push(`${n.error.step}: ${n.error.message}`);
  if (n.rollback) {
    lines.push(
      n.rollback.phase === 'done' ? `Automatic rollback done (${n.rollback.reason}).` : `Automatic rollback failed: ${n.rollback.reason}`,
    );
  }
  if (n.event !== 'start') lines.push(servingLine(n));
  if (n.contract !== null && n.event !== 'start') lines.push(n.contract);
  lines.push(`Release: ${n.release ?? 'none'} (previous: ${n.previous ?? 'none'})`);
  lines.push(`By: ${n.operator} on ${n.localHost}`);
  if (n.durationMs !== null) lines.push(`Took: ${formatDuration(n.durationMs)}`);
  lines.push(`At: ${n.at}`);
  return lines;
}

/** "🔴 ontology → production: failing — error rate: …", "🟢 ontology → production: recovered after 12m". */
function alertHeadline(n: AlertNotification): string {
  const where = `${n.app} → ${n.target}`;
  if (n.event === 'recovered') return `✔ ${where}: recovered (failing since ${n.since})`;
  return `✖ ${where}: failing — ${n.problems[0] ?? 'a threshold was crossed'}${n.problems.length > 1 ? ` (+${n.problems.length - 1} more)` : ''}`;
}

function alertLines(n: AlertNotification): string[] {
  const e = n.evidence;
  const lines = n.event === 'alert' ? n.problems.map((problem) => `• ${problem}`) : ['Every monitor threshold is met again.'];
  lines.push(`Release: ${n.release ?? 'none'}${e.colour ? ` on ${e.colour}` : ''} — ${e.health}`);
  if (e.requests !== null) {
    const rate = e.errorRate === null ? '' : ` (${(e.errorRate * 100).toFixed(1)}%)`;
    lines.push(`Through nginx: ${e.requests} request(s), ${e.errors ?? 0} 5xx${rate}, p99 ${e.p99Ms === null ? '—' : `${e.p99Ms} ms`}`);
  }
  if (e.rssBytes !== null) lines.push(`Memory: ${Math.round(e.rssBytes / 1e6)} MB resident; restarts: ${e.restarts}`);
  for (const finding of e.comparison) lines.push(finding);
  lines.push(`Checked: ${e.samples} sample(s) over ${e.windowSeconds} s, by ${n.operator} on ${n.localHost}`);
  lines.push(`At: ${n.at}`);
  return lines;
}

function servingLine(n: Notification): string {
  if (n.serving !== null) return `Serving now: ${n.serving}.`;
  // No release id: the run stopped before it changed anything (validation, the lock, SSH).
  if (n.ok === false && n.release === null) return `Nothing was changed on ${n.target ?? 'the host'}.`;
  return 'Serving now: nothing, or unknown.';
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return `${Math.floor(seconds / 60)}m ${Math.round(seconds % 60)}s`;
}

/**
 * Cuts text to a channel's limit, saying so with "…". Counted in UTF-16 units, the strictest
 * reading of "characters", and never splitting a surrogate pair (an emoji cut in half is garbage).
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let kept = '';
  for (const char of text) {
    if (kept.length + char.length > max - 1) break;
    kept += char;
  }
  return `${kept}…`;
}
