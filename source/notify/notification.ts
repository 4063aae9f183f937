import type { NotifyEvent } from '../config/schema.js';
import type { AuditRecord } from '../run/audit-record.js';
import type { MonitorAlert } from '../run/events.js';

export type { NotifyEvent };

/**
 * One message about one deploy or rollback run, with the same facts for every channel. These
 * field names are a public contract: the generic webhook sends this object as its JSON body.
 */
export type Notification = {
  readonly event: NotifyEvent;
  readonly operation: 'deploy' | 'rollback';
  readonly app: string;
  readonly target: string | null;
  /** The release this run moves to; null when the run failed before one was chosen. */
  readonly release: string | null;
  /** The release that was active when the run began. */
  readonly previous: string | null;
  /** null in a 'start' message: the outcome is not known yet. */
  readonly ok: boolean | null;
  /** True when this run failed and the engine undid its cutover by itself. */
  readonly rolledBack: boolean;
  /** How that automatic rollback went; null when there was none. */
  readonly rollback: { readonly phase: 'done' | 'failed'; readonly reason: string } | null;
  /** Who ran it. */
  readonly operator: string;
  /** The machine it was run from. */
  readonly localHost: string;
  /** null in a 'start' message. */
  readonly durationMs: number | null;
  readonly error: { readonly step: string; readonly message: string } | null;
  /** What serves traffic now, in words; null when nothing does (or, for a crash, nobody knows). */
  readonly serving: string | null;
  /**
   * The MCP contract diff's summary line ("MCP contract: 1 breaking, 0 risky, 2 safe change(s); now …"),
   * once the new release's contract was compared with the active one's; null before or without that.
   */
  readonly contract: string | null;
  /** When the message was made, ISO 8601. */
  readonly at: string;
  /**
   * The line this run wrote to the host's audit.log (who, from where, from/to, result, each step's
   * duration): outcome messages carry the same record as the audit log. Null in a 'start' message
   * and when the run never reached the host.
   */
  readonly audit: AuditRecord | null;
};

/**
 * An alert of `mcp-deploy monitor`: the serving release started failing its thresholds, or
 * recovered. Sent to every configured channel whatever `notify.on` says (that list is about
 * deploy runs); the webhook sends this object as its body.
 */
export type AlertNotification = MonitorAlert & {
  readonly event: 'alert' | 'recovered';
  readonly app: string;
  /** false for an alert, true for a recovery. */
  readonly ok: boolean;
  /** Who ran the check (`MCP_DEPLOY_OPERATOR`, or the login name) and from where. */
  readonly operator: string;
  readonly localHost: string;
};

/** Whatever a channel may be asked to send. */
export type Message = Notification | AlertNotification;

export function isAlert(message: Message): message is AlertNotification {
  return message.event === 'alert' || message.event === 'recovered';
}
