import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../source/config/load.js';
import { EventBus, type EngineEvent } from '../../source/run/events.js';
import { createNotifier, notifyReportLines, type NotifyReport } from '../../source/notify/notifier.js';
import {
  deployRolledBack as failedDeployRolledBack,
  newRelease,
  oldRelease,
  operatorRollback,
  servingOld,
  successfulDeploy,
} from '../fixtures/recorded-runs.js';

/**
 * The notifier against real receivers on 127.0.0.1: an HTTP server standing in for Slack,
 * Discord and a generic webhook, and an SMTP server. Recorded event sequences of a deploy go in;
 * the test reads what arrived. Every server is stopped after each test, every wait is bounded.
 */

const smtpUser = 'deploy-bot';
const smtpPass = 'smtp-pass-1234';
const hookSecret = 'whsec-test-secret';

// --- receivers ---

type Behaviour = 'ok' | 'hang' | 'fail';
type Recorded = { readonly path: string; readonly headers: IncomingHttpHeaders; readonly body: string };

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Records every request; answers per first path segment: 200, a 500 that echoes the path, or never. */
async function startHttpReceiver(
  behaviours: Readonly<Record<string, Behaviour>> = {},
): Promise<{ base: string; requests: Recorded[]; hung: Socket[]; bodies(path: string): Record<string, unknown>[] }> {
  const requests: Recorded[] = [];
  const hung: Socket[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = request.url ?? '/';
      requests.push({ path, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const behaviour = behaviours[`/${path.split(/[/?]/)[1] ?? ''}`] ?? 'ok';
      if (behaviour === 'hang') {
        hung.push(request.socket);
        return;
      }
      if (behaviour === 'fail') {
        // A careless receiver quoting the request URL back: the notifier must still not leak it.
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`no such hook: ${path}`);
        return;
      }
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    hung,
    bodies: (path) =>
      requests.filter((request) => request.path.startsWith(path)).map((request) => JSON.parse(request.body) as Record<string, unknown>),
  };
}

/** A real SMTP server that checks the login (and, on a bad one, quotes the password back). */
async function startSmtpReceiver(): Promise<{ port: number; raw: string[]; mails(): Promise<ParsedMail[]> }> {
  const raw: string[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 500,
    onAuth(auth, _session, callback) {
      if (auth.username === smtpUser && auth.password === smtpPass) callback(null, { user: auth.username });
      else callback(new Error(`Invalid login ${auth.username} / ${auth.password ?? ''}`));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        raw.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.server.address() as AddressInfo;
  return { port, raw, mails: () => Promise.all(raw.map((text) => simpleParser(text))) };
}

/** Accepts TCP connections and never says a word: an SMTP server that hangs before its greeting. */
async function startSilentTcp(): Promise<{ port: number; open: () => number }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port: (server.address() as AddressInfo).port, open: () => sockets.size };
}

/** A port on 127.0.0.1 nobody listens on: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls for at most two seconds. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// --- the notifier under test ---

function configWith(notify: Record<string, unknown>) {
  const raw = {
    app: 'ontology',
    runtime: { type: 'python', entry: 'server.py' },
    targets: { production: { transport: 'local', path: '/tmp/mcp-deploy-notify-test', publicUrl: 'http://127.0.0.1:9/' } },
    notify,
  };
  return parseConfig(JSON.stringify(raw), '/tmp/mcp-deploy-notify-test/.mcpdeployrc', {});
}

function allChannels(base: string, smtpPort: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    slack: { webhookUrl: `${base}/slack/T000/B000/slacktoken123` },
    discord: { webhookUrl: `${base}/discord/123456789/discordtoken` },
    webhook: { url: `${base}/hook`, secret: hookSecret },
    email: {
      host: '127.0.0.1',
      port: smtpPort,
      secure: false,
      user: smtpUser,
      pass: smtpPass,
      from: 'mcp-deploy@example.org',
      to: ['ops@example.org', 'lead@example.org'],
    },
    ...extra,
  };
}

async function run(notify: Record<string, unknown>, ...sequences: EngineEvent[][]): Promise<{ report: NotifyReport; flushMs: number }> {
  const notifier = createNotifier({ config: configWith(notify), operator: 'alice', localHost: 'laptop' });
  for (const event of sequences.flat()) notifier.listener(event);
  const flushStarted = performance.now();
  const report = await notifier.flush();
  return { report, flushMs: performance.now() - flushStarted };
}

function delivered(report: NotifyReport): Record<string, readonly string[]> {
  return Object.fromEntries(report.channels.map((channel) => [channel.channel, channel.delivered]));
}

function verifySignature(request: Recorded): boolean {
  const expected = `sha256=${createHmac('sha256', hookSecret).update(request.body, 'utf8').digest('hex')}`;
  return request.headers['x-mcp-deploy-signature'] === expected;
}

describe('notify: delivering to real receivers', () => {
  it('Given all four channels and a successful deploy, each receives a start then a success', async () => {
    const http = await startHttpReceiver();
    const smtp = await startSmtpReceiver();
    const { report } = await run(allChannels(http.base, smtp.port), successfulDeploy());

    expect(report.ok).toBe(true);
    expect(delivered(report)).toEqual({
      slack: ['start', 'success'],
      discord: ['start', 'success'],
      webhook: ['start', 'success'],
      email: ['start', 'success'],
    });

    const slack = http.bodies('/slack');
    expect(slack.map((body) => body['text'])).toEqual([
      `▶ ontology → production: deploy of ${newRelease} started`,
      `✔ ontology → production: deployed ${newRelease}`,
    ]);
    expect(JSON.stringify(slack[1]?.['blocks'])).toContain('By: alice on laptop');

    const discord = http.bodies('/discord');
    expect(discord.map((body) => String(body['content']).split('\n')[0])).toEqual([
      `**▶ ontology → production: deploy of ${newRelease} started**`,
      `**✔ ontology → production: deployed ${newRelease}**`,
    ]);

    const hooks = http.requests.filter((request) => request.path === '/hook');
    expect(hooks).toHaveLength(2);
    expect(hooks.every(verifySignature)).toBe(true);
    const success = JSON.parse(hooks[1]!.body) as Record<string, unknown>;
    expect(success).toMatchObject({
      event: 'success',
      operation: 'deploy',
      app: 'ontology',
      target: 'production',
      release: newRelease,
      previous: oldRelease,
      ok: true,
      operator: 'alice',
      localHost: 'laptop',
      durationMs: 42_100,
      error: null,
      serving: `release ${newRelease}`,
    });
    expect(Number(hooks[1]!.headers['x-mcp-deploy-timestamp'])).toBe(Math.floor(Date.parse(String(success['at'])) / 1000));

    const mails = await smtp.mails();
    expect(mails.map((mail) => mail.subject)).toEqual([
      `▶ ontology → production: deploy of ${newRelease} started`,
      `✔ ontology → production: deployed ${newRelease}`,
    ]);
    expect(mails[1]?.from?.text).toBe('mcp-deploy@example.org');
    expect(mails[1]?.to).toMatchObject({ text: 'ops@example.org, lead@example.org' });
    expect(mails[1]?.text).toContain(`Serving now: release ${newRelease}.`);
  });

  it('Given a deploy that failed and was rolled back, each receives a start and one failure that tells of the rollback', async () => {
    const http = await startHttpReceiver();
    const smtp = await startSmtpReceiver();
    const { report } = await run(allChannels(http.base, smtp.port), failedDeployRolledBack());

    expect(delivered(report)).toEqual({
      slack: ['start', 'failure'],
      discord: ['start', 'failure'],
      webhook: ['start', 'failure'],
      email: ['start', 'failure'],
    });
    const hooks = http.requests.filter((request) => request.path === '/hook');
    expect(hooks.every(verifySignature)).toBe(true);
    expect(JSON.parse(hooks[1]!.body)).toMatchObject({
      event: 'failure',
      ok: false,
      rolledBack: true,
      rollback: { phase: 'done', reason: 'health failed' },
      error: { step: 'health', message: 'GET /health answered 503' },
      serving: servingOld,
      durationMs: 31_000,
      release: newRelease,
      previous: oldRelease,
    });
    expect(http.bodies('/slack')[1]?.['text']).toBe('✖ ontology → production: deploy failed at health');

    const mails = await smtp.mails();
    expect(mails[1]?.subject).toBe('✖ ontology → production: deploy failed at health');
    expect(mails[1]?.text).toContain('health: GET /health answered 503');
    expect(mails[1]?.text).toContain('Automatic rollback done (health failed).');
    expect(mails[1]?.text).toContain(`Serving now: ${servingOld}.`);
  });

  it('Given an operator rollback on the engine bus, each receives a start and a rollback message', async () => {
    const http = await startHttpReceiver();
    const config = configWith({ webhook: { url: `${http.base}/hook`, secret: hookSecret }, slack: { webhookUrl: `${http.base}/slack/x` } });
    const notifier = createNotifier({ config, operator: 'alice', localHost: 'laptop' });
    // Wired as the CLI wires it: a subscriber of the bus like any reporter.
    const bus = new EventBus();
    const unsubscribe = bus.on(notifier.listener);
    for (const event of operatorRollback()) bus.emit(event);
    unsubscribe();
    const report = await notifier.flush();

    expect(delivered(report)).toEqual({ slack: ['start', 'rollback'], webhook: ['start', 'rollback'] });
    expect(http.bodies('/hook').map((body) => [body['event'], body['operation'], body['release'], body['ok']])).toEqual([
      ['start', 'rollback', oldRelease, null],
      ['rollback', 'rollback', oldRelease, true],
    ]);
    expect(http.bodies('/slack')[1]?.['text']).toBe(`↩ ontology → production: rolled back to ${oldRelease}`);
  });

  it('Given on lists only failure, three runs send exactly one message per channel', async () => {
    const http = await startHttpReceiver();
    const smtp = await startSmtpReceiver();
    const { report } = await run(
      allChannels(http.base, smtp.port, { on: ['failure'] }),
      successfulDeploy(),
      failedDeployRolledBack(),
      operatorRollback(),
    );

    expect(delivered(report)).toEqual({ slack: ['failure'], discord: ['failure'], webhook: ['failure'], email: ['failure'] });
    expect(http.requests).toHaveLength(3);
    expect(smtp.raw).toHaveLength(1);
  });

  it('Given on lists only rollback, an automatic rollback arrives once, as a rollback', async () => {
    const http = await startHttpReceiver();
    await run({ webhook: { url: `${http.base}/hook` }, on: ['rollback'] }, failedDeployRolledBack());

    const hooks = http.requests.filter((request) => request.path === '/hook');
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.headers['x-mcp-deploy-signature']).toBeUndefined();
    expect(JSON.parse(hooks[0]!.body)).toMatchObject({ event: 'rollback', ok: false, rolledBack: true });
  });
});

describe('notify: a broken channel costs a report line, never the deploy', () => {
  it('Given receivers that never answer and one that fails, flush returns within the timeout and the others are delivered', async () => {
    const http = await startHttpReceiver({ '/slack': 'hang', '/discord': 'fail' });
    const silentSmtp = await startSilentTcp();
    const { report, flushMs } = await run(allChannels(http.base, silentSmtp.port, { timeoutSeconds: 1 }), failedDeployRolledBack());

    // The hung channels time out side by side: one after another they would take 4 s (two messages
    // each to slack and email). The listener itself is synchronous and only queues.
    expect(flushMs).toBeLessThan(4 * 1_000);
    const byChannel = Object.fromEntries(report.channels.map((channel) => [channel.channel, channel]));
    expect(report.ok).toBe(false);
    expect(byChannel['webhook']).toMatchObject({ ok: true, delivered: ['start', 'failure'] });
    expect(byChannel['slack']).toMatchObject({ ok: false, delivered: [] });
    expect(byChannel['slack']?.failed.map((failure) => failure.error)).toEqual(['no answer within 1s', 'no answer within 1s']);
    expect(byChannel['discord']).toMatchObject({ ok: false, delivered: [] });
    expect(byChannel['discord']?.failed[0]?.error).toMatch(/^HTTP 500 Internal Server Error/);
    expect(byChannel['email']).toMatchObject({ ok: false, delivered: [] });

    const lines = notifyReportLines(report);
    expect(lines).toContain('notification to slack failed: no answer within 1s (start and failure messages)');
    expect(lines.some((line) => line.startsWith('notification to discord failed: HTTP 500'))).toBe(true);
    expect(lines.some((line) => line.startsWith('notification to email failed: '))).toBe(true);
    expect(lines.some((line) => line.startsWith('notification to webhook'))).toBe(false);

    // The abandoned connections are really dropped, so they cannot keep the CLI from exiting.
    expect(http.hung.length).toBeGreaterThan(0);
    await until('the hung connections to close', () => http.hung.every((socket) => socket.destroyed) && silentSmtp.open() === 0);
  });

  it('Given a wrong SMTP password, the email is reported failed and the webhooks still go out', async () => {
    const http = await startHttpReceiver();
    const smtp = await startSmtpReceiver();
    const { report } = await run(
      allChannels(http.base, smtp.port, {
        email: { host: '127.0.0.1', port: smtp.port, user: smtpUser, pass: 'wrong-password', from: 'a@example.org', to: 'b@example.org' },
      }),
      successfulDeploy(),
    );

    const email = report.channels.find((channel) => channel.channel === 'email');
    expect(email?.ok).toBe(false);
    expect(email?.failed[0]?.error).toMatch(/Invalid login/);
    expect(email?.failed[0]?.error).not.toContain('wrong-password');
    expect(smtp.raw).toHaveLength(0);
    expect(report.channels.filter((channel) => channel.ok).map((channel) => channel.channel)).toEqual(['slack', 'discord', 'webhook']);
  });
});

describe('notify: secrets never leak', () => {
  it('Given a canary in the webhook URLs, the signing secret and the SMTP password, and failing channels, the canary appears in no output', async () => {
    const canary = `CANARY${randomBytes(8).toString('hex')}`;
    const http = await startHttpReceiver({ '/slack': 'fail' });
    const smtp = await startSmtpReceiver();
    const refused = await closedPort();
    const captured: string[] = [];
    const capture = (...args: unknown[]) => void captured.push(args.map(String).join(' '));
    const spies = [
      vi.spyOn(console, 'log').mockImplementation(capture),
      vi.spyOn(console, 'warn').mockImplementation(capture),
      vi.spyOn(console, 'error').mockImplementation(capture),
      vi.spyOn(console, 'debug').mockImplementation(capture),
    ];
    const writes = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        captured.push(String(chunk));
        return true;
      }),
    );
    let report: NotifyReport;
    try {
      ({ report } = await run(
        {
          // Slack answers 500 and quotes the URL back; the webhook's port refuses; the SMTP login fails and quotes the password.
          slack: { webhookUrl: `${http.base}/slack/T000/${canary}?token=${canary}` },
          discord: { webhookUrl: `${http.base}/discord/123/${canary}` },
          webhook: { url: `http://127.0.0.1:${refused}/hook/${canary}?key=${canary}`, secret: `s-${canary}` },
          email: { host: '127.0.0.1', port: smtp.port, user: smtpUser, pass: canary, from: 'a@example.org', to: 'b@example.org' },
          timeoutSeconds: 3,
        },
        // As if an engine error had quoted a secret: it must not travel to the channels either.
        failedDeployRolledBack({ message: `server printed ${canary} and s-${canary}` }),
      ));
    } finally {
      for (const spy of [...spies, ...writes]) spy.mockRestore();
    }

    expect(report.channels.map((channel) => [channel.channel, channel.ok])).toEqual([
      ['slack', false],
      ['discord', true],
      ['webhook', false],
      ['email', false],
    ]);
    const lines = notifyReportLines(report);
    expect(lines).toHaveLength(3);
    const everything = [JSON.stringify(report), ...lines, ...captured].join('\n');
    expect(everything).not.toContain(canary);
    // The scrubbed errors still say what went wrong, and where.
    expect(lines.find((line) => line.includes('slack'))).toMatch(/HTTP 500 Internal Server Error: no such hook: \/…/);
    expect(lines.find((line) => line.includes('webhook'))).toMatch(/ECONNREFUSED/);
    expect(lines.find((line) => line.includes('email'))).toMatch(/Invalid login/);
    // What was delivered carries no secret either.
    const discord = http.bodies('/discord');
    expect(discord).toHaveLength(2);
    expect(JSON.stringify(discord)).not.toContain(canary);
    expect(JSON.stringify(discord[1])).toContain('server printed \\\\*\\\\*\\\\* and \\\\*\\\\*\\\\*');
  });
});
