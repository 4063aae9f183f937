import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { sshdSkipReason } from '../harness/index.js';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * `mcp-deploy monitor --once` as cron or a CI schedule runs it: the real binary against a
 * deployed world, a real webhook receiver on 127.0.0.1, real traffic through nginx. One alert
 * when the serving release starts failing, none while it keeps failing, one recovery when it is
 * well again; the exit code says which.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const sshSkip = await sshdSkipReason();

type Received = { readonly headers: IncomingHttpHeaders; readonly body: Record<string, unknown> };

async function startReceiver(): Promise<{ url: string; received: Received[]; stop(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/monitor`,
    received,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each([
  ['local', undefined],
  ['ssh', sshSkip],
] as const)('mcp-deploy monitor over %s (the binary, a webhook on loopback)', (transportKind, skip) => {
  let world: World;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let config: string;
  let original: string;

  beforeAll(async () => {
    if (skip !== undefined) return;
    world = await createWorld({ transport: transportKind });
    original = readFileSync(join(world.project, 'server.py'), 'utf8');
    const first = await deploy(world.context().context);
    expect(first.error).toBeUndefined();
    receiver = await startReceiver();
    config = writeCliConfig(world, {
      notify: { webhook: { url: receiver.url } },
      watch: { accessLog: world.nginx.accessLog },
      monitor: { minRequests: 10 },
    });
  }, 90_000);
  afterAll(async () => {
    await receiver?.stop();
    await world?.stop();
  });

  const monitor = (...args: string[]) =>
    execa(process.execPath, [bin, 'monitor', ...(args.includes('--for') ? [] : ['--once']), '--config', config, ...args], {
      reject: false,
      cwd: world.project,
      env: { CI: 'true', NO_COLOR: '1', MCP_DEPLOY_OPERATOR: 'cron' },
      timeout: 60_000,
    });
  const traffic = async (path: string, count: number) => {
    for (let index = 0; index < count; index += 1) await fetch(`${world.publicUrl}${path}`).then((response) => response.arrayBuffer());
  };
  const monitorState = () => JSON.parse(readFileSync(join(world.hostRoot, 'monitor.json'), 'utf8')) as Record<string, unknown>;
  /** A release whose checks pass but whose /ontology/status answers 500 to real traffic. */
  const deployFailingStatus = async () => {
    world.editServer((text) =>
      text.replace(
        '            else:\n                onto = self.server.app.onto\n',
        '            else:\n                self.send_json(500, {"error": "index corrupted"})\n                return\n',
      ),
    );
    const summary = await deploy(world.context().context, { skipValidate: true });
    expect(summary.error).toBeUndefined();
    return summary.release!;
  };

  it.skipIf(skip !== undefined)(
    'alerts once on failing, stays quiet while it keeps failing, and sends one recovery',
    async () => {
      // Given a healthy release with good traffic: exit 0 and no message
      await traffic('/ontology/status', 15);
      const healthy = await monitor();
      expect(healthy.exitCode, healthy.stdout + healthy.stderr).toBe(0);
      expect(healthy.stdout).toMatch(/✔ world: healthy/);
      expect(receiver.received).toHaveLength(0);
      expect(monitorState()).toMatchObject({ version: 1, state: 'ok', problems: [] });

      // When a release that passes its checks but fails real traffic takes over
      const bad = await deployFailingStatus();
      await traffic('/ontology/status', 30);
      const failing = await monitor();

      // Then one alert, with the evidence, and exit 1
      expect(failing.exitCode, failing.stdout + failing.stderr).toBe(1);
      expect(failing.stdout).toMatch(/✖ world: failing since/);
      expect(receiver.received).toHaveLength(1);
      const alert = receiver.received[0]!;
      expect(alert.headers['x-mcp-deploy-event']).toBe('alert');
      expect(alert.body).toMatchObject({
        event: 'alert',
        transition: 'failing',
        app: 'world',
        target: 'world',
        release: bad,
        ok: false,
        operator: 'cron',
      });
      expect(alert.body['problems']).toContainEqual(expect.stringMatching(/^error rate: 30 of \d+ requests through nginx failed/));
      expect(alert.body['evidence']).toMatchObject({ errors: 30, samples: 1, health: 'healthy' });
      expect(monitorState()).toMatchObject({ state: 'failing', release: bad });

      // When it keeps failing at the next run: still exit 1, and no second alert
      await traffic('/ontology/status', 30);
      const still = await monitor();
      expect(still.exitCode).toBe(1);
      expect(still.stdout).toContain('No message: the verdict is the same as at the last check.');
      expect(receiver.received).toHaveLength(1);

      // While another run holds the monitor lock, a run judges nothing and sends nothing
      const { mkdirSync, rmSync } = await import('node:fs');
      mkdirSync(join(world.hostRoot, 'monitor.lock'));
      const overlapping = await monitor();
      rmSync(join(world.hostRoot, 'monitor.lock'), { recursive: true });
      expect(overlapping.exitCode).toBe(1);
      expect(overlapping.stdout).toContain('another monitor run holds');
      expect(receiver.received).toHaveLength(1);

      // When a fixed release serves good traffic again: exit 0 and one recovery message
      world.editServer(() => `${original}\n# fixed\n`);
      const fixed = await deploy(world.context().context, { skipValidate: true });
      expect(fixed.error).toBeUndefined();
      await traffic('/ontology/status', 15);
      const recovered = await monitor('--json');
      expect(recovered.exitCode, recovered.stdout + recovered.stderr).toBe(0);
      const document = JSON.parse(recovered.stdout) as Record<string, unknown>;
      expect(document).toMatchObject({ healthy: true, state: 'ok', transition: 'recovered', release: fixed.release });
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received[1]!.body).toMatchObject({ event: 'recovered', ok: true, release: fixed.release, problems: [] });

      // And a server that dies is "down": one alert more
      const pid = Number.parseInt(
        readFileSync(
          join(
            world.hostRoot,
            'run',
            `${(JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8')) as { active: { colour: string } }).active.colour}.pid`,
          ),
          'utf8',
        ),
        10,
      );
      process.kill(-pid, 'SIGKILL');
      const down = await monitor();
      expect(down.exitCode).toBe(1);
      expect(receiver.received).toHaveLength(3);
      expect(receiver.received[2]!.body['problems']).toEqual([expect.stringMatching(/^down: (blue|green) \(port \d+\) is not running$/)]);
    },
    240_000,
  );
});
