/**
 * Removes secrets from text before it can be printed, logged or sent on: the notify channels'
 * credentials (notify/secrets.ts) and the server's environment values (engine/secrets.ts).
 *
 * A Slack or Discord webhook URL *is* the credential (its path holds the token), and fetch,
 * undici and nodemailer are free to quote URLs, paths and server replies in their errors. So
 * every form a secret may take is replaced: the URL whole (by its host and "…"), its path (with
 * its query), each token-like path segment and query value on its own, user:password in the URL,
 * and the webhook secret and SMTP password; each also percent-encoded, JSON-escaped and
 * base64-encoded (SMTP AUTH sends the password in base64, and a server may echo it).
 */

export type Scrub = (text: string) => string;

type Rule = { readonly needle: string; readonly replacement: string };

/** A path shorter than this ("/hook") is no secret, and replacing it everywhere would maul text. */
const minPath = 8;

export type Secrets = { readonly urls: readonly string[]; readonly values: readonly string[] };

export function createScrubber(secrets: Secrets): Scrub {
  const rules: Rule[] = [];
  for (const url of secrets.urls) rules.push(...urlRules(url));
  for (const value of secrets.values) rules.push(...valueRules(value, '***'));
  // Longest first: a whole URL becomes "https://host/…" before its parts could mangle it.
  const ordered = dedupe(rules).sort((a, b) => b.needle.length - a.needle.length);
  return (text) => ordered.reduce((out, rule) => (out.includes(rule.needle) ? out.split(rule.needle).join(rule.replacement) : out), text);
}

/** Applies a scrubber to every string inside a JSON-like value. */
export function scrubDeep<T>(value: T, scrub: Scrub): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => scrubDeep(item, scrub)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubDeep(item, scrub)])) as T;
  }
  return value;
}

function urlRules(raw: string): Rule[] {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return valueRules(raw, '***');
  }
  const mask = `${url.protocol}//${url.host}/…`;
  const rules: Rule[] = [...valueRules(raw, mask), ...valueRules(url.href, mask)];
  const hasSecretPart = url.pathname.length > 1 || url.search.length > 1;
  if (hasSecretPart) {
    for (const whole of [`${url.host}${url.pathname}${url.search}`, `${url.origin}${url.pathname}`, `${url.host}${url.pathname}`]) {
      rules.push(...valueRules(whole, mask));
    }
    if (`${url.pathname}${url.search}`.length >= minPath) rules.push(...valueRules(`${url.pathname}${url.search}`, '/…'));
  }
  if (url.pathname.length >= minPath) rules.push(...valueRules(url.pathname, '/…'));
  for (const part of [...url.pathname.split('/'), ...url.searchParams.values()]) {
    if (looksLikeToken(part)) rules.push(...valueRules(part, '***'));
  }
  for (const part of [url.username, url.password]) {
    if (part.length > 0) rules.push(...valueRules(part, '***'));
  }
  return rules;
}

/**
 * A path segment or query value that may be a credential on its own. Words ("services",
 * "webhooks", "true") and short ids are not: scrubbing those from every message would turn
 * "systemd services" into "systemd ***" for nothing.
 */
export function looksLikeToken(part: string): boolean {
  if (part.length >= 20) return true;
  if (part.length < 8) return false;
  const kinds = [/[a-z]/, /[A-Z]/, /[0-9]/].filter((pattern) => pattern.test(part)).length;
  return kinds >= 2;
}

function valueRules(value: string, replacement: string): Rule[] {
  if (value.length === 0) return [];
  const forms = new Set([value, Buffer.from(value, 'utf8').toString('base64'), JSON.stringify(value).slice(1, -1)]);
  for (const transform of [encodeURIComponent, encodeURI, decodeURIComponent, decodeURI]) {
    try {
      forms.add(transform(value));
    } catch {
      // Not valid percent-encoding (or a lone surrogate): that form cannot occur either.
    }
  }
  return [...forms].filter((form) => form.length > 0).map((needle) => ({ needle, replacement }));
}

function dedupe(rules: readonly Rule[]): Rule[] {
  const seen = new Map<string, Rule>();
  for (const rule of rules) if (!seen.has(rule.needle)) seen.set(rule.needle, rule);
  return [...seen.values()];
}
