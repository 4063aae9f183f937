import { createTransport } from 'nodemailer';
import type { NotifyConfig } from '../../config/schema.js';
import { detailLines, headline } from '../message-text.js';
import type { Message } from '../notification.js';
import type { Channel } from './channel.js';

export type EmailSettings = NonNullable<NotifyConfig['email']>;

/**
 * Plain-text email over SMTP. A transporter per message: a deploy sends two at most, and a
 * pooled connection would outlive the run and keep the CLI from exiting.
 */
export function emailChannel(settings: EmailSettings, timeoutMs: number): Channel {
  return {
    name: 'email',
    async send(notification, signal) {
      const transporter = createTransport({
        host: settings.host,
        port: settings.port,
        secure: settings.secure,
        auth: settings.user !== undefined ? { user: settings.user, pass: settings.pass ?? '' } : undefined,
        // Each phase gets the whole budget; the caller's signal enforces the total.
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        dnsTimeout: timeoutMs,
        // On abort, drop the socket rather than wait for a polite QUIT from a server that is not answering.
        socketCloseTimeout: 0,
        // The message is built from our own text only; nothing in it may reach for files or URLs.
        disableFileAccess: true,
        disableUrlAccess: true,
        logger: false,
        debug: false,
      });
      try {
        await transporter.sendMail({ ...emailMessage(notification, settings), signal });
      } finally {
        transporter.close();
      }
    },
  };
}

export function emailMessage(
  notification: Message,
  settings: Pick<EmailSettings, 'from' | 'to'>,
): { from: string; to: string | string[]; subject: string; text: string } {
  return {
    from: settings.from,
    to: typeof settings.to === 'string' ? settings.to : [...settings.to],
    // A subject is one line, whatever an error message may hold.
    subject: headline(notification).replace(/\s+/g, ' ').trim(),
    text: `${[headline(notification), '', ...detailLines(notification)].join('\n')}\n\n-- \nSent by mcp-deploy.\n`,
  };
}
