import type { Message } from './notification.js';

/** What a message was sent as: a deploy run's kind, or a monitor's `alert` / `recovered`. */
export type MessageEvent = Message['event'];

export type ChannelName = 'slack' | 'discord' | 'webhook' | 'email';

/** How one channel did over the run. Error texts are already scrubbed of secrets. */
export type ChannelReport = {
  readonly channel: ChannelName;
  readonly ok: boolean;
  readonly delivered: readonly MessageEvent[];
  readonly failed: readonly { readonly event: MessageEvent; readonly error: string }[];
};

/** Every configured channel, in config order; `ok` is false when any message failed anywhere. */
export type NotifyReport = {
  readonly ok: boolean;
  readonly channels: readonly ChannelReport[];
};

/**
 * Lines for the CLI to print after the run, one per channel and distinct error, such as
 * "notification to slack failed: HTTP 500 Internal Server Error (start and failure messages)".
 * Empty when everything arrived.
 */
export function notifyReportLines(report: NotifyReport): string[] {
  const lines: string[] = [];
  for (const channel of report.channels) {
    const byError = new Map<string, MessageEvent[]>();
    for (const failure of channel.failed) byError.set(failure.error, [...(byError.get(failure.error) ?? []), failure.event]);
    for (const [error, events] of byError) {
      lines.push(`notification to ${channel.channel} failed: ${error} (${events.join(' and ')} message${events.length > 1 ? 's' : ''})`);
    }
  }
  return lines;
}
