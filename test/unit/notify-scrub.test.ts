import { describe, expect, it } from 'vitest';
import { scrubberFor } from '../../source/notify/secrets.js';
import { createScrubber, looksLikeToken, scrubDeep } from '../../source/run/scrub.js';

/** Notify secrets never survive into text that is printed, reported or sent on. */

const token = 'XoXbTokenCanary42';
const slackUrl = `https://hooks.slack.com/services/T0000/B0000/${token}`;

describe('notify: scrubbing secrets', () => {
  const scrub = createScrubber({
    urls: [slackUrl, `https://hooks.example.org/in?key=${token}&v=1`],
    values: ['hmac-secret-value', 'p@ss w0rd'],
  });

  it('Given a whole webhook URL in an error, keeps only its host', () => {
    expect(scrub(`request to ${slackUrl} failed`)).toBe('request to https://hooks.slack.com/… failed');
  });

  it('Given only the path, a segment or a query value, removes it too', () => {
    expect(scrub(`POST /services/T0000/B0000/${token} answered 404`)).toBe('POST /… answered 404');
    expect(scrub(`bad token ${token}`)).toBe('bad token ***');
    expect(scrub(`no such key=${token}`)).not.toContain(token);
    expect(scrub(`https://hooks.example.org/in?key=${token}&v=1`)).toBe('https://hooks.example.org/…');
  });

  it('Given encoded forms of a password, removes them as well', () => {
    const text = [
      'p@ss w0rd',
      encodeURIComponent('p@ss w0rd'),
      Buffer.from('p@ss w0rd').toString('base64'),
      JSON.stringify({ pass: 'p@ss w0rd' }),
      'hmac-secret-value',
    ].join(' | ');
    const out = scrub(text);
    expect(out).not.toMatch(/p@ss|w0rd|cEBzcyB3MHJk|hmac-secret/);
    expect(out).toContain('***');
  });

  it('Given the config, covers every URL, the signing secret, the password and the AUTH PLAIN credential', () => {
    const scrubConfig = scrubberFor({
      slack: { webhookUrl: slackUrl },
      webhook: { url: 'https://receiver.example.org/hook/abcdefgh', secret: 'sign-me' },
      email: {
        host: 'smtp.example.org',
        port: 587,
        secure: false,
        user: 'bot',
        pass: 'mail-pass',
        from: 'a@example.org',
        to: 'b@example.org',
      },
      on: ['failure'],
      timeoutSeconds: 5,
    });
    const plain = Buffer.from('\u0000bot\u0000mail-pass').toString('base64');
    const out = scrubConfig(`${slackUrl} https://receiver.example.org/hook/abcdefgh sign-me mail-pass ${plain}`);
    expect(out).toBe('https://hooks.slack.com/… https://receiver.example.org/… *** *** ***');
  });

  it('Given ordinary words and short ids in a URL, leaves them alone in other text', () => {
    const words = createScrubber({
      urls: ['https://discord.com/api/webhooks/123456789012345678/AbCdEf0123456789token?wait=true'],
      values: [],
    });
    expect(words('systemd services failed; wait=true; webhooks 123456789 ok')).toBe(
      'systemd services failed; wait=true; webhooks 123456789 ok',
    );
    expect(words('token AbCdEf0123456789token leaked')).toBe('token *** leaked');
  });

  it('Given a path segment or query value, tells a token from a word', () => {
    expect(looksLikeToken('services')).toBe(false);
    expect(looksLikeToken('true')).toBe(false);
    expect(looksLikeToken('B0123ABCD')).toBe(true);
    expect(looksLikeToken('abcdefghijklmnopqrstuvwxyz')).toBe(true);
    expect(looksLikeToken('Abc12')).toBe(false);
  });

  it('Given no notify config, changes nothing', () => {
    expect(scrubberFor(undefined)('anything at all')).toBe('anything at all');
  });

  it('Given a nested value, scrubs every string in it', () => {
    expect(scrubDeep({ a: [`x ${token}`], b: { c: 'hmac-secret-value' }, n: 1, z: null }, scrub)).toEqual({
      a: ['x ***'],
      b: { c: '***' },
      n: 1,
      z: null,
    });
  });
});
