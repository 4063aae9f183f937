import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { discordBody, discordContentLimit } from '../../source/notify/channels/discord.js';
import { emailMessage } from '../../source/notify/channels/email.js';
import { slackBody } from '../../source/notify/channels/slack.js';
import { webhookRequest } from '../../source/notify/channels/webhook.js';
import { detailLines, headline, truncate } from '../../source/notify/message-text.js';
import type { Notification } from '../../source/notify/notification.js';
import { notifyReportLines } from '../../source/notify/report.js';

/** How each channel words and shapes a notification. */

function notification(overrides: Partial<Notification> = {}): Notification {
  return {
    event: 'failure',
    operation: 'deploy',
    app: 'ontology',
    target: 'production',
    release: '20261124T101500Z-abc1234',
    previous: '20261120T090000Z-1111111',
    ok: false,
    rolledBack: true,
    rollback: { phase: 'done', reason: 'health failed' },
    operator: 'alice',
    localHost: 'laptop',
    durationMs: 31_000,
    error: { step: 'health', message: 'GET /health answered 503' },
    serving: 'release 20261120T090000Z-1111111 on blue (port 5002)',
    at: '2026-11-24T10:15:31.000Z',
    contract: null,
    ...overrides,
    audit: overrides.audit ?? null,
  };
}

describe('notify: the words', () => {
  it('Given a failed deploy, the headline names app, target and the failing step', () => {
    expect(headline(notification())).toBe('✖ ontology → production: deploy failed at health');
  });

  it('Given each kind of message, the headline says what happened', () => {
    expect(headline(notification({ event: 'start', ok: null, error: null, rollback: null, rolledBack: false }))).toBe(
      '▶ ontology → production: deploy of 20261124T101500Z-abc1234 started',
    );
    expect(headline(notification({ event: 'success', ok: true, error: null, rollback: null, rolledBack: false }))).toBe(
      '✔ ontology → production: deployed 20261124T101500Z-abc1234',
    );
    expect(
      headline(notification({ event: 'rollback', operation: 'rollback', ok: true, error: null, rollback: null, rolledBack: false })),
    ).toBe('↩ ontology → production: rolled back to 20261124T101500Z-abc1234');
    expect(headline(notification({ event: 'rollback' }))).toBe('↩ ontology → production: deploy failed at health, rolled back');
    expect(headline(notification({ rollback: { phase: 'failed', reason: 'x' } }))).toBe(
      '✖ ontology → production: deploy failed at health, and the automatic rollback failed too',
    );
  });

  it('Given a failure, the details give the error, the rollback, what serves, who and how long', () => {
    expect(detailLines(notification())).toEqual([
      'health: GET /health answered 503',
      'Automatic rollback done (health failed).',
      'Serving now: release 20261120T090000Z-1111111 on blue (port 5002).',
      'Release: 20261124T101500Z-abc1234 (previous: 20261120T090000Z-1111111)',
      'By: alice on laptop',
      'Took: 31.0s',
      'At: 2026-11-24T10:15:31.000Z',
    ]);
  });

  it('Given a contract diff, the details carry its summary line after what serves', () => {
    const summary = 'MCP contract: 1 breaking, 0 risky, 0 safe change(s); now 2 tool(s), 0 prompt(s), 0 resource(s)';
    const lines = detailLines(notification({ contract: summary }));
    expect(lines[3]).toBe(summary);
    expect(lines[2]).toMatch(/^Serving now:/);
  });

  it('Given a run refused before it chose a release, the details say nothing was changed', () => {
    const lines = detailLines(
      notification({
        release: null,
        previous: null,
        serving: null,
        rollback: null,
        rolledBack: false,
        error: { step: 'connect', message: 'locked by bob' },
      }),
    );
    expect(lines).toContain('Nothing was changed on production.');
  });

  it('Given text over a limit, truncate keeps within it and never splits an emoji', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    const cut = truncate('ab😀😀😀', 4);
    expect(cut.length).toBeLessThanOrEqual(4);
    expect(cut).toBe('ab…');
  });
});

describe('notify: each channel shapes it', () => {
  it('Given an error message with a mention, Slack gets it escaped so nobody is paged', () => {
    const body = slackBody(notification({ error: { step: 'health', message: 'boom <!channel> & <@U123>' } }));
    expect(body.text).toBe('✖ ontology → production: deploy failed at health');
    expect(JSON.stringify(body.blocks)).toContain('boom &lt;!channel&gt; &amp; &lt;@U123&gt;');
    expect(JSON.stringify(body.blocks)).not.toContain('<!channel>');
  });

  it('Given a huge error message, Discord content stays within 2000 characters and mentions are off', () => {
    const body = discordBody(notification({ error: { step: 'health', message: `@everyone ${'x😀'.repeat(3000)}` } }));
    expect(body.content.length).toBeLessThanOrEqual(discordContentLimit);
    expect(body.content.endsWith('…')).toBe(true);
    expect(body.content.startsWith('**✖ ontology → production: deploy failed at health**\n')).toBe(true);
    expect(body.allowed_mentions).toEqual({ parse: [] });
  });

  it('Given markdown characters in an error, Discord gets them escaped', () => {
    const body = discordBody(notification({ error: { step: 'health', message: 'glob *_x_* failed' } }));
    expect(body.content).toContain('glob \\*\\_x\\_\\* failed');
  });

  it('Given a secret, the webhook body carries the contract fields and a verifiable signature', () => {
    const { body, headers } = webhookRequest(notification(), 's3cret');
    const parsed = JSON.parse(body) as Record<string, unknown>;
    expect(parsed).toMatchObject({
      event: 'failure',
      app: 'ontology',
      target: 'production',
      release: '20261124T101500Z-abc1234',
      previous: '20261120T090000Z-1111111',
      ok: false,
    });
    expect(headers['x-mcp-deploy-signature']).toBe(`sha256=${createHmac('sha256', 's3cret').update(body).digest('hex')}`);
    expect(headers['x-mcp-deploy-timestamp']).toBe(String(Date.parse('2026-11-24T10:15:31.000Z') / 1000));
    expect(headers['x-mcp-deploy-event']).toBe('failure');
  });

  it('Given no secret, the webhook is sent unsigned', () => {
    const { headers } = webhookRequest(notification(), undefined);
    expect(headers['x-mcp-deploy-signature']).toBeUndefined();
    expect(headers['x-mcp-deploy-timestamp']).toBeUndefined();
  });

  it('Given an email, the subject is the headline on one line and the body plain text', () => {
    const mail = emailMessage(notification({ error: { step: 'health\nx', message: 'm' } }), {
      from: 'deploy@example.org',
      to: ['ops@example.org'],
    });
    expect(mail.subject).toBe('✖ ontology → production: deploy failed at health x');
    expect(mail.text).toContain('Serving now: release 20261120T090000Z-1111111 on blue (port 5002).');
    expect(mail.to).toEqual(['ops@example.org']);
  });
});

describe('notify: report lines', () => {
  it('Given failures, prints one line per channel and distinct error; nothing when all arrived', () => {
    expect(
      notifyReportLines({ ok: true, channels: [{ channel: 'slack', ok: true, delivered: ['start', 'success'], failed: [] }] }),
    ).toEqual([]);
    const lines = notifyReportLines({
      ok: false,
      channels: [
        {
          channel: 'slack',
          ok: false,
          delivered: [],
          failed: [
            { event: 'start', error: 'HTTP 500' },
            { event: 'failure', error: 'HTTP 500' },
          ],
        },
        { channel: 'email', ok: false, delivered: ['start'], failed: [{ event: 'failure', error: 'no answer within 5s' }] },
      ],
    });
    expect(lines).toEqual([
      'notification to slack failed: HTTP 500 (start and failure messages)',
      'notification to email failed: no answer within 5s (failure message)',
    ]);
  });
});
