import { detailLines, headline, truncate } from '../message-text.js';
import type { Message } from '../notification.js';
import type { Channel, Fetch } from './channel.js';
import { postJson } from './post-json.js';

/** A section block's text may hold 3000 characters. */
const sectionLimit = 3000;

/** Slack incoming webhook: `text` is the fallback shown in alerts, the block holds the details. */
export function slackChannel(webhookUrl: string, fetchFn: Fetch): Channel {
  return {
    name: 'slack',
    send: (notification, signal) => postJson(fetchFn, webhookUrl, JSON.stringify(slackBody(notification)), {}, signal),
  };
}

export function slackBody(notification: Message): { text: string; blocks: unknown[] } {
  const title = escapeSlack(headline(notification));
  const details = detailLines(notification).map(escapeSlack).join('\n');
  return {
    text: title,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(`*${title}*\n${details}`, sectionLimit) } }],
  };
}

/**
 * Slack reads `<…>` as links and mentions: an error message holding "<!channel>" must not page
 * a whole channel. These three are the escapes Slack documents.
 */
function escapeSlack(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
