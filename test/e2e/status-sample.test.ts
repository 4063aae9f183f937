import { appendFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { createStatusSampler, type StatusSample } from '../../source/engine/status-sample.js';
import type { Transport } from '../../source/remote/transport.js';
import { sshdSkipReason } from '../harness/index.js';
import { execa } from 'execa';
import { holdSession, type SessionClient } from './session-client.js';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * The status sampler against a deployed world: one script per tick reads state, the include,
 * the lock, audit.log, the server's process tree and the access log; the numbers must be the
 * ones the host really has (requests sent through nginx, the server's own pid and memory).
 */
const sshSkip = await sshdSkipReason();
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;

describe.each([
  ['local', undefined],
  ['ssh', sshSkip],
] as const)('the status sampler over %s', (transportKind, skip) => {
  let world: World;
  let transport: Transport;
  let release = '';

  beforeAll(async () => {
    if (skip !== undefined) return;
    world = await createWorld({ transport: transportKind });
    const summary = await deploy(world.context().context);
    expect(summary.error).toBeUndefined();
    release = summary.release!;
    transport = await world.connect();
  }, 90_000);
  afterAll(async () => {
    await transport?.close();
    await world?.stop();
  });

  const sampler = () => {
    const config = world.config({ watch: { accessLog: world.nginx.accessLog } });
    return createStatusSampler(world.context({ config }).context, transport);
  };
  const serving = (sample: StatusSample) => sample.colours.find((colour) => colour.serving)!;

  it.skipIf(skip !== undefined)('reads what serves, its process tree and the audit mark from the host', async () => {
    const subject = sampler();
    try {
      const first = await subject.sample();
      expect(first.active?.release).toBe(release);
      expect(first.trafficPort).toBe(first.active?.port);
      expect(first.lock).toEqual({ held: false });
      const active = serving(first);
      expect(active.colour).toBe(first.active?.colour);
      expect(active.running).toBe(true);
      expect(active.healthy).toBe(true);
      expect(active.release).toBe(release);
      expect(active.mcp.ms).toBeGreaterThan(0);
      // The pid file's process, and a resident size only a real process has.
      expect(active.pid).toBeGreaterThan(1);
      expect(active.rssBytes).toBeGreaterThan(1024 * 1024);
      expect(active.processes).toBeGreaterThanOrEqual(1);
      // CPU is a rate: the first sample has nothing to compare with.
      expect(active.cpuPercent).toBeNull();
      const idle = first.colours.find((colour) => !colour.serving)!;
      expect(idle.running).toBe(false);
      expect(idle.healthy).toBeNull();
      expect(first.audit.at(-1)).toMatchObject({ operation: 'deploy', result: 'ok', to: release });

      const second = await subject.sample();
      expect(serving(second).cpuPercent).not.toBeNull();
      expect(serving(second).pid).toBe(active.pid);
      expect(serving(second).restarted).toBe(false);
      expect(second.seq).toBe(2);
    } finally {
      await subject.close();
    }
  });

  it.skipIf(skip !== undefined)("counts the MCP sessions nginx's session log shows on the serving colour", async () => {
    const subject = sampler();
    let client: SessionClient | undefined;
    try {
      // Given the sessions the log shows now (the deploy's own verify may have left one)
      const before = serving(await subject.sample()).sessions;
      expect(before).not.toBeNull();
      // When a client holds one session through nginx
      client = await holdSession(`${world.publicUrl}/mcp`, { intervalMs: 50, maxCalls: 400, maxMs: 60_000 });
      await client.waitCalls(3);
      const held = await subject.sample();
      // Then the serving colour has one more, and the stopped one has none to show
      expect(serving(held).sessions).toBe(before! + 1);
      expect(held.colours.find((colour) => !colour.serving)!.sessions).toBeNull();
      // And once the client ends it (DELETE), it is no longer counted
      const report = await client.stop({ end: true });
      client = undefined;
      expect(report.failures).toEqual([]);
      expect(serving(await subject.sample()).sessions).toBe(before);
    } finally {
      await client?.stop();
      await subject.close();
    }
  });

  it.skipIf(skip !== undefined)('counts the requests nginx logged since the last tick, reading only what was appended', async () => {
    const subject = sampler();
    try {
      await subject.sample();
      // When 25 requests go through nginx, 3 of them to a route that does not exist (404s, not 5xx)
      for (let index = 0; index < 25; index += 1) {
        const path = index < 3 ? '/no-such-route' : '/health';
        await fetch(`${world.publicUrl}${path}`).then((response) => response.arrayBuffer());
      }
      const sizeBefore = statSync(world.nginx.accessLog).size;
      const after = await subject.sample();
      const nginx = serving(after).nginx!;
      expect(nginx.requests).toBe(25);
      expect(nginx.errors).toBe(0);
      expect(nginx.perSecond).toBeGreaterThan(0);
      expect(nginx.p99Ms).not.toBeNull();
      // Only the new lines crossed the wire: about 25 lines, not the log.
      expect(after.accessLog!.bytesRead).toBeLessThan(25 * 200);
      expect(after.accessLog!.bytesRead).toBeGreaterThan(25 * 20);
      expect(after.accessLog!.bytesRead).toBeLessThanOrEqual(sizeBefore);

      // Then a tick with nothing new reads nothing
      const quiet = await subject.sample();
      expect(quiet.accessLog!.bytesRead).toBe(0);
      expect(serving(quiet).nginx!.requests).toBe(0);

      // And 5xx answers are counted as errors (lines as nginx writes them for a failing upstream)
      const port = after.active!.port;
      appendFileSync(world.nginx.accessLog, `502 127.0.0.1:${port} 0.002 "GET /x HTTP/1.1"\n`.repeat(4));
      const failing = await subject.sample();
      expect(serving(failing).nginx).toMatchObject({ requests: 4, errors: 4, errorRate: 1 });
    } finally {
      await subject.close();
    }
  });

  it.skipIf(skip !== undefined || transportKind === 'ssh')(
    'the binary without a terminal: one plain line per sample, or one JSON object per sample with --json',
    async () => {
      const config = writeCliConfig(world, { watch: { accessLog: world.nginx.accessLog } });
      const run = (...args: string[]) =>
        execa(process.execPath, [bin, 'status', '--watch', '--count', '2', '--interval', '0.2', '--config', config, ...args], {
          reject: false,
          env: { CI: 'true', NO_COLOR: '1' },
          timeout: 60_000,
        });
      const json = await run('--json');
      expect(json.exitCode, json.stderr).toBe(0);
      const records = json.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as StatusSample);
      expect(records.map((record) => record.seq)).toEqual([1, 2]);
      expect(records[1]!.colours.find((colour) => colour.serving)).toMatchObject({ running: true, healthy: true, release });
      const plain = await run();
      expect(plain.exitCode, plain.stderr).toBe(0);
      const lines = plain.stdout.trim().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(
        new RegExp(
          `^\\S+Z \\| world active (blue|green) ${release} \\| .*healthy mcp \\d+ms p50 \\d+ms p99 \\d+ms cpu \\d+\\.\\d% mem .* \\| lock free$`,
        ),
      );
    },
  );

  it.skipIf(skip !== undefined)('a rotated access log is read from its start, not skipped', async () => {
    const subject = sampler();
    try {
      await subject.sample();
      const port = (await subject.sample()).active!.port;
      // logrotate's copytruncate: the same file, shorter than the offset we stopped at
      const { truncateSync } = await import('node:fs');
      truncateSync(world.nginx.accessLog, 0);
      appendFileSync(world.nginx.accessLog, `200 127.0.0.1:${port} 0.010 "GET /y HTTP/1.1"\n`.repeat(2));
      const after = await subject.sample();
      expect(serving(after).nginx!.requests).toBe(2);
    } finally {
      await subject.close();
    }
  });
});
