import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { Client } from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploy } from '../source/engine/deploy.js';
import { createStatusSampler } from '../source/engine/status-sample.js';
import type { Transport } from '../source/remote/transport.js';
import { sshdSkipReason } from '../test/harness/index.js';
import { createWorld, type World } from '../test/e2e/world.js';

/**
 * What one status sample costs the host as its access log grows: SSH channels opened per tick
 * (exec channels for commands, direct-tcpip channels for the probes' TCP connections through
 * the tunnels) and bytes read from the access log per tick, at log sizes from a few kB to
 * BENCH_LOG_MB. Counts, not timings: they are the same on any machine. The reference is the
 * log's size: what re-reading it each tick would cost.
 *
 *   npx vitest run --config bench/vitest.config.ts bench/status-sample.bench.test.ts
 */
const logMegabytes = Number(process.env['BENCH_LOG_MB'] ?? 64);
const ticks = Number(process.env['BENCH_TICKS'] ?? 5);
const linesPerTick = 200;
const skip = await sshdSkipReason();

// Counted where every channel of ours is opened: the ssh2 client's exec and forwardOut.
const opened = { exec: 0, forward: 0 };
const prototype = Client.prototype as unknown as Record<'exec' | 'forwardOut', (...args: unknown[]) => unknown>;
for (const [method, key] of [
  ['exec', 'exec'],
  ['forwardOut', 'forward'],
] as const) {
  const original = prototype[method];
  prototype[method] = function (this: unknown, ...args: unknown[]) {
    opened[key] += 1;
    return original.apply(this, args);
  };
}

let world: World;
let transport: Transport;

beforeAll(async () => {
  if (skip !== undefined) return;
  world = await createWorld({ transport: 'ssh' });
  const summary = await deploy(world.context().context);
  expect(summary.error).toBeUndefined();
  transport = await world.connect();
}, 120_000);

afterAll(async () => {
  await transport?.close();
  await world?.stop();
});

it.skipIf(skip !== undefined)(
  'channels and access-log bytes per tick stay bounded as the log grows',
  async () => {
    const config = world.config({ watch: { accessLog: world.nginx.accessLog } });
    const port = config.targets['world']!.ports;
    const state = JSON.parse((await transport.readFile(`${world.hostRoot}/state.json`))!.toString('utf8')) as { active: { port: number } };
    const line = (index: number) => `200 127.0.0.1:${state.active.port} 0.00${index % 10} "GET /ontology/status?i=${index} HTTP/1.1"\n`;
    const appended = Array.from({ length: linesPerTick }, (_, index) => line(index)).join('');
    const rows: string[] = [];
    const results: Record<string, unknown>[] = [];
    for (const target of [0.01, 1, logMegabytes / 4, logMegabytes]) {
      // Grow the log to about `target` MB with lines of other traffic (a real log's history).
      const chunk = `200 127.0.0.1:${port.blue === state.active.port ? port.green : port.blue} 0.002 "GET /old HTTP/1.1"\n`.repeat(10_000);
      while (statSync(world.nginx.accessLog).size < target * 1024 * 1024) appendFileSync(world.nginx.accessLog, chunk);
      const size = statSync(world.nginx.accessLog).size;
      const sampler = createStatusSampler(world.context({ config }).context, transport);
      try {
        await sampler.sample(); // the first look (its last 256 kB), and the tunnels opened
        const before = { ...opened };
        let bytes = 0;
        let requests = 0;
        for (let tick = 0; tick < ticks; tick += 1) {
          appendFileSync(world.nginx.accessLog, appended);
          const sample = await sampler.sample();
          bytes += sample.accessLog?.bytesRead ?? 0;
          requests += sample.colours.find((colour) => colour.serving)?.nginx?.requests ?? 0;
        }
        const exec = (opened.exec - before.exec) / ticks;
        const forward = (opened.forward - before.forward) / ticks;
        const perTick = bytes / ticks;
        // What must hold whatever the machine: every appended line read once, and nothing more.
        expect(requests).toBe(linesPerTick * ticks);
        expect(perTick).toBe(appended.length);
        results.push({
          logBytes: size,
          execPerTick: exec,
          forwardPerTick: forward,
          accessBytesPerTick: perTick,
          ratioToLog: perTick / size,
        });
        rows.push(
          `| ${(size / 1024 / 1024).toFixed(2)} MB | ${exec} | ${forward} | ${perTick} B | ${((perTick / size) * 100).toPrecision(2)}% |`,
        );
      } finally {
        await sampler.close();
      }
    }
    const text = [
      `Status sampling over SSH, ${ticks} ticks per log size, ${linesPerTick} new lines (${appended.length} B) per tick, one colour running:`,
      '',
      '| access log | exec channels / tick | direct-tcpip channels / tick | access log read / tick | of the log |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
    console.log(`\n${text}\n`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/status-sample.md', `${text}\n`);
    writeFileSync('bench/results/status-sample.json', `${JSON.stringify(results, null, 2)}\n`);
  },
  600_000,
);
