import { createHmac } from 'node:crypto';
import type { Message } from '../notification.js';
import type { Channel, Fetch } from './channel.js';
import { postJson } from './post-json.js';

/**
 * A generic webhook: the notification itself as the JSON body. With a secret the body is signed
 * so the receiver can trust it: `X-MCP-Deploy-Signature: sha256=<hex HMAC-SHA256 of the raw
 * body>`. The timestamp header repeats the body's signed `at` (in Unix seconds) for receivers
 * that reject old deliveries; trust the one in the body, which the signature covers.
 */
export function webhookChannel(options: { readonly url: string; readonly secret?: string | undefined }, fetchFn: Fetch): Channel {
  return {
    name: 'webhook',
    send: (notification, signal) => {
      const { body, headers } = webhookRequest(notification, options.secret);
      return postJson(fetchFn, options.url, body, headers, signal);
    },
  };
}

export function webhookRequest(notification: Message, secret: string | undefined): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(notification);
  const headers: Record<string, string> = { 'x-mcp-deploy-event': notification.event };
  if (secret !== undefined) {
    headers['x-mcp-deploy-timestamp'] = String(Math.floor(Date.parse(notification.at) / 1000));
    headers['x-mcp-deploy-signature'] = `sha256=${signBody(body, secret)}`;
  }
  return { body, headers };
}

export function signBody(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('hex');
}
