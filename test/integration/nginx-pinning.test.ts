import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget, type Target } from '../../source/config/load.js';
import { applyRouting, readIncludes } from '../../source/engine/nginx.js';
import { retiredSessionBody } from '../../source/engine/nginx-location-include.js';
import { retired, switchedTo, type Routing } from '../../source/engine/nginx-routing.js';
import { liveSessions, recordSessionLines, type SessionBook } from '../../source/engine/session-log.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { startStatefulServer, type RunningFixture, type UnknownSessionStatus } from '../fixtures/stateful-mcp/fixture.js';
import { freePort, nginxSkipReason, startNginx, waitFor, type NginxHandle } from '../harness/index.js';
import { holdSession, summarizeSessionCalls } from '../e2e/session-client.js';

/**
 * The generated includes in a real nginx 1.22, with two stateful servers on the official v2 SDK
 * (one answering an unknown session with 400 as the SDK example does, one with 404) on blue and
 * green, and real SDK clients holding sessions. The includes are switched and retired with the
 * engine's own applyRouting, as a cutover does, without the rest of a deploy around it.
 */
const skip = await nginxSkipReason();

describe.skipIf(skip !== undefined).each([400, 404] as UnknownSessionStatus[])(
  'sessions through nginx: a server that answers an unknown session with %i',
  (unknown) => {
    let nginx: NginxHandle;
    let target: Target;
    let blue: RunningFixture;
    let green: RunningFixture;
    const transport = new LocalTransport();
    const scratch = mkdtempSync(join(tmpdir(), 'mcpd-pinning-'));
    const url = () => `http://127.0.0.1:${nginx.port}/mcp`;
    let routing: Routing;

    beforeAll(async () => {
      const ports = { blue: await freePort(), green: await freePort() };
      nginx = await startNginx({ upstreamName: 'mcp_pin', pinned: ports });
      const config = parseConfig(
        JSON.stringify({
          app: 'pin',
          runtime: { type: 'command', command: 'true' },
          targets: {
            here: {
              transport: 'local',
              path: scratch,
              ports,
              publicUrl: `http://127.0.0.1:${nginx.port}`,
              nginx: {
                upstream: 'mcp_pin',
                upstreamFile: nginx.upstreamFile,
                locationFile: nginx.locationFile,
                sessionLog: nginx.sessionLog,
                test: [...nginx.testCommand],
                reload: [...nginx.reloadCommand],
              },
            },
          },
        }),
        join(scratch, 'rc.json'),
        {},
      );
      target = selectTarget(config, undefined);
      blue = await startStatefulServer({ port: ports.blue, release: 'release-blue', unknown, logFile: join(scratch, 'blue.log') });
      green = await startStatefulServer({ port: ports.green, release: 'release-green', unknown, logFile: join(scratch, 'green.log') });
      routing = (await readIncludes(transport, target)).routing!;
      expect(routing.active).toBe('blue');
    }, 60_000);

    afterAll(async () => {
      await blue?.stop();
      await green?.stop();
      await nginx?.stop();
      rmSync(scratch, { recursive: true, force: true });
    });

    const post = (session: string | null, body: unknown = { jsonrpc: '2.0', id: 1, method: 'ping' }) =>
      fetch(url(), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
          ...(session === null ? {} : { 'mcp-session-id': session }),
        },
        body: JSON.stringify(body),
      });

    it('keeps a session on the colour that issued it through a switch, sends new sessions and stand-alone requests to the new colour, and answers a retired colour with one 404', async () => {
      // Given a client holding a session issued by blue
      const held = await holdSession(url(), { tool: 'whoami', intervalMs: 20 });
      await held.waitCalls(5);
      const first = held.current();
      const blueTag = routing.tags.blue!;
      expect(first).toMatch(new RegExp(`^${blueTag}\\.`));

      // When new traffic is switched to green
      routing = switchedTo(routing, 'green');
      await applyRouting(transport, target, 'pin', routing);
      await held.waitCalls(20);

      // Then the held session still reaches blue, and its event stream (opened on blue) is still up
      const pinnedCalls = held.report.calls.filter((call) => call.session === first);
      expect(pinnedCalls.length).toBeGreaterThan(20);
      expect(pinnedCalls.filter((call) => !(call.outcome === 'ok' && call.text === 'release-blue' && call.colour === 'blue'))).toEqual([]);
      expect(held.report.streams[0]).toBe(200);
      // A new session lands on green, tagged as green's
      const fresh = await holdSession(url(), { tool: 'whoami', intervalMs: 20 });
      await fresh.waitCalls(3);
      expect(fresh.current()).toMatch(new RegExp(`^${routing.tags.green}\\.`));
      expect(fresh.report.calls.filter((call) => call.text !== 'release-green')).toEqual([]);
      // A stand-alone request (no session at all, as the 2026-07-28 revision sends) goes to green
      const alone = await post(null);
      expect(alone.headers.get('x-mcp-deploy-colour')).toBe('green');
      // A GET event stream on the held session reaches blue too: the server that issued it answers
      // that it already holds the session's stream (409), where green would not know the session
      const stream = await fetch(url(), {
        headers: { accept: 'text/event-stream', 'mcp-session-id': first, 'mcp-protocol-version': '2025-06-18' },
        signal: AbortSignal.timeout(5_000),
      });
      expect(stream.status).toBe(409);
      expect(stream.headers.get('x-mcp-deploy-colour')).toBe('blue');
      await stream.body?.cancel();

      // When blue is retired (it still runs: its server would answer the session itself)
      routing = retired(routing, 'blue');
      await applyRouting(transport, target, 'pin', routing);
      await held.waitCalls(10);
      const report = await held.stop();
      await fresh.stop();

      // Then the held session got exactly one 404, from nginx, and went on in a new session on green
      expect(report.failures).toEqual([]);
      expect(summarizeSessionCalls(report).notFound).toBe(1);
      expect(report.sessions).toHaveLength(2);
      expect(report.sessions[1]).toMatch(new RegExp(`^${routing.tags.green}\\.`));
      expect(report.calls.at(-1)).toMatchObject({ outcome: 'ok', text: 'release-green', colour: 'green' });
      // nginx answers a retired tag itself: 404 and the JSON-RPC body, never the server's 400, never 502
      const gone = await post(first, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
      expect(gone.status).toBe(404);
      expect(gone.headers.get('content-type')).toBe('application/json');
      expect(await gone.text()).toBe(retiredSessionBody);
      const goneStream = await fetch(url(), { headers: { accept: 'text/event-stream', 'mcp-session-id': first } });
      expect(goneStream.status).toBe(404);
      await goneStream.body?.cancel();
      // blue saw the id it issued, never the tag nginx put on it
      expect(blue.log()).toContain(first.slice(blueTag.length + 1));
      expect(blue.log()).not.toContain(blueTag);
    }, 90_000);

    it('writes a session log that tells sessions apart without their whole id, and when they ended', async () => {
      // Given a fresh session, a call on it, and its DELETE
      const init = await post(null, {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      });
      const session = init.headers.get('mcp-session-id')!;
      await init.text();
      const stripped = session.slice(session.indexOf('.') + 1);
      await (await post(session, { jsonrpc: '2.0', method: 'notifications/initialized' })).text();
      const tag = routing.tags.green!;
      const key = `${tag}.${stripped.slice(-10)}`;
      // nginx logs a request just after answering it: read until its line is there.
      const readBook = () => {
        const book: SessionBook = new Map();
        recordSessionLines(readFileSync(nginx.sessionLog, 'utf8'), book);
        return book;
      };
      await waitFor('the session in the log', () => liveSessions(readBook(), tag, 0).some((entry) => entry.key === key));

      const deleted = await fetch(url(), { method: 'DELETE', headers: { 'mcp-session-id': session } });
      expect(deleted.status).toBeLessThan(300);
      // Then it is known as ended, and the log never holds a whole session id
      await waitFor('the DELETE in the log', () => readBook().get(key)?.ended === true);
      expect(readFileSync(nginx.sessionLog, 'utf8')).not.toContain(stripped);
    }, 30_000);
  },
);
