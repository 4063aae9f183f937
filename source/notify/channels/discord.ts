import { detailLines, headline, truncate } from '../message-text.js';
import type { Message } from '../notification.js';
import type { Channel, Fetch } from './channel.js';
import { postJson } from './post-json.js';

/** Discord refuses a message whose content is longer than this. */
export const discordContentLimit = 2000;

export function discordChannel(webhookUrl: string, fetchFn: Fetch): Channel {
  return {
    name: 'discord',
    send: (notification, signal) => postJson(fetchFn, webhookUrl, JSON.stringify(discordBody(notification)), {}, signal),
  };
}

export function discordBody(notification: Message): { content: string; allowed_mentions: { parse: string[] } } {
  const text = `**${escapeMarkdown(headline(notification))}**\n${detailLines(notification).map(escapeMarkdown).join('\n')}`;
  return {
    content: truncate(text, discordContentLimit),
    // Text from a failing server may contain "@everyone"; a deploy message must never ping anyone.
    allowed_mentions: { parse: [] },
  };
}

/**
 * Error messages are full of `*` and `_` (globs, file names) that Discord would read as markup;
 * `>`, `#` and `-` are markup only at the start of a line.
 */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\*_~`|]/g, '\\$&').replace(/^[>#-]/gm, '\\$&');
}
