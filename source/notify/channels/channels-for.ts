import type { NotifyConfig } from '../../config/schema.js';
import type { Channel, Fetch } from './channel.js';
import { discordChannel } from './discord.js';
import { emailChannel } from './email.js';
import { slackChannel } from './slack.js';
import { webhookChannel } from './webhook.js';

/** The configured channels, always in this order, so reports read the same from run to run. */
export function channelsFor(notify: NotifyConfig, fetchFn: Fetch): Channel[] {
  const timeoutMs = notify.timeoutSeconds * 1000;
  return [
    ...(notify.slack ? [slackChannel(notify.slack.webhookUrl, fetchFn)] : []),
    ...(notify.discord ? [discordChannel(notify.discord.webhookUrl, fetchFn)] : []),
    ...(notify.webhook ? [webhookChannel(notify.webhook, fetchFn)] : []),
    ...(notify.email ? [emailChannel(notify.email, timeoutMs)] : []),
  ];
}
