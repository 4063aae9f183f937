import type { NotifyConfig } from '../config/schema.js';
import { createScrubber, type Scrub, type Secrets } from '../run/scrub.js';

/** The notify channels' credentials, for the scrubber (run/scrub.ts): URLs whole and by part, tokens, passwords. */
export function notifySecrets(notify: NotifyConfig | undefined): Secrets {
  const email = notify?.email;
  return {
    urls: [notify?.slack?.webhookUrl, notify?.discord?.webhookUrl, notify?.webhook?.url].filter(isText),
    values: [
      notify?.webhook?.secret,
      email?.pass,
      // AUTH PLAIN's credential, base64-encoded whole by the variants below.
      email?.pass ? `\u0000${email.user ?? ''}\u0000${email.pass}` : undefined,
    ].filter(isText),
  };
}

function isText(value: string | undefined): value is string {
  return value !== undefined && value.length > 0;
}

export function scrubberFor(notify: NotifyConfig | undefined, moreValues: readonly string[] = []): Scrub {
  const secrets = notifySecrets(notify);
  return createScrubber({ urls: secrets.urls, values: [...secrets.values, ...moreValues] });
}
