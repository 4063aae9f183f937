import { cpSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../source/config/load.js';
import { rolloutOf } from '../source/config/fleet.js';
import { deployFleet } from '../source/engine/fleet/fleet-deploy.js';
import { memberContext } from '../source/engine/fleet/fleet-context.js';
import { connectSsh } from '../source/remote/connect.js';
import { EventBus } from '../source/run/events.js';
import { startNginx, startSshd, type NginxHandle, type SshdHandle } from '../test/harness/index.js';
import { exampleServer } from '../test/e2e/world.js';

/**
 * A fleet deploy's wall time and this process's peak memory by fleet size (5, 10, 20 hosts) and
 * batch size (1, 5). One real sshd serves every "host" (each its own deploy root, colour ports
 * and nginx: 20 sshds would measure sshd, not us); each host is its own SSH connection, as on a
 * real fleet. Per size: a first deploy (everything uploaded), then a one-file change per batch
 * size. Printed, not asserted (bench/README.md has a run's figures).
 *
 *   npx vitest run --config bench/vitest.config.ts bench/fleet.bench.test.ts   (BENCH_FLEET_SIZES=5,10,20)
 */
const sizes = (process.env['BENCH_FLEET_SIZES'] ?? '5,10,20').split(',').map(Number);
const largest = Math.max(...sizes);

let sshd: SshdHandle;
const hosts: { name: string; nginx: NginxHandle; root: string; ports: { blue: number; green: number } }[] = [];
let scratch: string;
let project: string;

beforeAll(async () => {
  sshd = await startSshd();
  scratch = mkdtempSync(join(tmpdir(), 'mcpd-fleet-bench-'));
  project = join(scratch, 'project');
  cpSync(exampleServer, project, { recursive: true, filter: (path) => !path.includes('__pycache__') });
  // Colour ports below the ephemeral range (32768+), where no outgoing connection can take one.
  const ports = await lowPorts(largest * 2);
  for (let index = 0; index < largest; index += 1) {
    const colours = { blue: ports[index * 2]!, green: ports[index * 2 + 1]! };
    const nginx = await startNginx({ upstreamName: 'mcp_bench', owner: { uid: sshd.uid, gid: sshd.gid }, pinned: colours });
    hosts.push({ name: `h${String(index + 1).padStart(2, '0')}`, nginx, root: join(sshd.workDir, `host${index + 1}`), ports: colours });
  }
}, 300_000);

afterAll(async () => {
  for (const host of hosts) {
    for (const colour of ['blue', 'green']) {
      const pidFile = join(host.root, 'run', `${colour}.pid`);
      if (!existsSync(pidFile)) continue;
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
      try {
        if (pid > 1) process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await host.nginx.stop();
  }
  await sshd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** `count` ports from a random spot in 20000–30000 that nothing listens on now. */
async function lowPorts(count: number): Promise<number[]> {
  const found: number[] = [];
  for (let port = 20_000 + Math.floor(Math.random() * 8_000); found.length < count && port < 32_000; port += 1) {
    if (await bindable(port)) found.push(port);
  }
  return found;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function configFor(size: number, batchSize: number) {
  const raw = {
    app: 'bench',
    source: project,
    runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3' },
    health: { http: [{ path: '/health', status: 200 }], mcp: { path: '/mcp', expectTools: ['list_concepts'] }, timeoutSeconds: 20 },
    keepReleases: 3,
    drainSeconds: 0,
    drain: { sessionIdleSeconds: 0, sessionMaxSeconds: 0 },
    targets: {
      bench: {
        transport: 'ssh',
        path: '/srv/unused',
        publicUrl: hosts[0]!.nginx ? `http://127.0.0.1:${hosts[0]!.nginx.port}` : 'http://127.0.0.1',
        supervisor: 'process',
        rollout: { batchSize, maxConnections: 10 },
        hosts: hosts.slice(0, size).map((host) => ({
          name: host.name,
          host: '127.0.0.1',
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHosts: sshd.knownHostsFile,
          path: host.root,
          ports: host.ports,
          publicUrl: `http://127.0.0.1:${host.nginx.port}`,
          nginx: {
            upstreamFile: host.nginx.upstreamFile,
            locationFile: host.nginx.locationFile,
            sessionLog: host.nginx.sessionLog,
            upstream: 'mcp_bench',
            test: [...host.nginx.testCommand],
            reload: [...host.nginx.reloadCommand],
            errorLog: host.nginx.errorLog,
          },
        })),
      },
    },
  };
  return parseConfig(JSON.stringify(raw), join(project, '.mcpdeployrc.json'), {});
}

type Figures = {
  size: number;
  batchSize: number | 'first';
  batches: number;
  wallMs: number;
  peakRssMB: number;
  rssGrowthMB: number;
  ok: boolean;
};

async function measure(size: number, batchSize: number, label: number | 'first'): Promise<Figures> {
  const config = configFor(size, batchSize);
  const target = selectTarget(config, undefined);
  const bus = new EventBus();
  let batches = 0;
  bus.on((event) => {
    if (event.kind === 'fleet:start') batches = event.batches.length;
  });
  const base = {
    config,
    target,
    bus,
    operator: 'bench',
    localHost: hostname(),
    connect: () => Promise.reject(new Error('a fleet run connects per host')),
    signal: new AbortController().signal,
  };
  const members = target.fleet!.map((host) =>
    memberContext(base, host.name, host.target, () =>
      connectSsh({
        host: '127.0.0.1',
        port: sshd.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        knownHostsFile: sshd.knownHostsFile,
      }),
    ),
  );
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const started = performance.now();
  const summary = await deployFleet({ base, members, rollout: rolloutOf(target) }, { skipValidate: true });
  const wallMs = performance.now() - started;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (!summary.ok)
    console.log(
      JSON.stringify(summary.error),
      summary.hosts.filter((host) => !host.ok),
    );
  return { size, batchSize: label, batches, wallMs, peakRssMB: peak / 1e6, rssGrowthMB: (peak - baseline) / 1e6, ok: summary.ok };
}

it('fleet deploys by fleet size and batch size: wall time and peak memory of this process', async () => {
  const rows: Figures[] = [];
  let change = 0;
  const edit = () => {
    change += 1;
    const file = join(project, 'server.py');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n# bench change ${change}\n`);
  };
  for (const size of sizes) {
    rows.push(await measure(size, 5, 'first'));
    for (const batchSize of [1, 5]) {
      edit();
      rows.push(await measure(size, batchSize, batchSize));
    }
  }
  const lines = [
    '| hosts | batch size | batches | wall | per batch | peak RSS | RSS growth | ok |',
    '| ----- | ---------- | ------- | ---- | --------- | -------- | ---------- | -- |',
    ...rows.map(
      (row) =>
        `| ${row.size} | ${row.batchSize === 'first' ? '5 (first deploy)' : row.batchSize} | ${row.batches} | ${(row.wallMs / 1000).toFixed(1)} s | ${(row.wallMs / 1000 / row.batches).toFixed(2)} s | ${row.peakRssMB.toFixed(0)} MB | ${row.rssGrowthMB.toFixed(0)} MB | ${row.ok ? 'yes' : 'NO'} |`,
    ),
  ];
  console.log(lines.join('\n'));
  expect(rows.every((row) => row.ok)).toBe(true);
}, 1_800_000);
