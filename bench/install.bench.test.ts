import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deploy } from '../source/engine/deploy.js';
import type { EngineEvent } from '../source/run/events.js';
import { cmd, op, script } from '../source/remote/quote.js';
import { probeHostRuntime } from '../source/runtime/host-runtime.js';
import { readInstallInputs } from '../source/runtime/install-inputs.js';
import { sshdSkipReason } from '../test/harness/index.js';
import { createNodeProject, nodeConfig, type NodeProject } from '../test/e2e/node-project.js';
import { createWorld, type World } from '../test/e2e/world.js';

/**
 * The install step of a redeploy with an unchanged lockfile, against `npm ci --omit=dev` run by
 * hand on the same lockfile, over the same sshd, with the same (warm) npm cache: what reusing the
 * shared install folder saves on every deploy that does not touch the dependencies. Reported as a
 * ratio (ours / npm ci), medians of BENCH_RUNS runs each (default 5).
 *
 *   npm run bench -- install
 */
const runs = Number(process.env['BENCH_RUNS'] ?? 5);
const skip = await sshdSkipReason();

let world: World;
let project: NodeProject;

beforeAll(async () => {
  if (skip !== undefined) return;
  world = await createWorld({ transport: 'ssh' });
  project = createNodeProject(join(world.project, '..'));
}, 240_000);
afterAll(async () => world?.stop());

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

it.skipIf(skip !== undefined)(
  `install: a redeploy with an unchanged lockfile vs npm ci by hand (${runs} runs each)`,
  async () => {
    const config = world.config(nodeConfig(project));
    const installStep = (events: readonly EngineEvent[]) => {
      const done = events.find((event) => event.kind === 'step:done' && event.step === 'install');
      if (done?.kind !== 'step:done') throw new Error('no install step');
      return done;
    };

    // The first deploy installs (and warms the host's npm cache for the reference runs).
    const first = world.context({ config });
    expect((await deploy(first.context)).error).toBeUndefined();
    const firstInstall = installStep(first.events).ms;

    const ours: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      project.editSource((text) => `${text}\n// redeploy ${run}\n`);
      const { context, events } = world.context({ config });
      expect((await deploy(context, { skipValidate: true })).error).toBeUndefined();
      const step = installStep(events);
      expect(step.detail).toContain('reused');
      ours.push(step.ms);
    }

    // By hand: the same package.json and lockfile, a fresh folder, npm ci over the same connection.
    const transport = await world.connect();
    const reference: number[] = [];
    const probes: number[] = [];
    try {
      // The one round trip outside the step that a node deploy adds: asking the host for node and npm.
      const inputs = readInstallInputs(config);
      for (let run = 0; run < runs; run += 1) {
        const started = performance.now();
        await probeHostRuntime(transport, config, inputs);
        probes.push(performance.now() - started);
      }
      const dir = join(world.sshd!.workDir, 'by-hand');
      for (let run = 0; run < runs; run += 1) {
        const prepare = await transport.run({ script: script(cmd(['rm', '-rf', dir]), op('&&'), cmd(['mkdir', '-p', dir])) });
        if (prepare.code !== 0) throw new Error(prepare.stderr);
        await transport.writeFileAtomic(`${dir}/package-lock.json`, readFileSync(join(project.dir, 'package-lock.json')));
        // package.json without its scripts, as the install folder gets it (its prepare would build).
        await transport.writeFileAtomic(
          `${dir}/package.json`,
          JSON.stringify({ name: 'mcpd-node-fixture', version: '1.0.0', dependencies: { '@modelcontextprotocol/server': '2.4.0' } }),
        );
        const started = performance.now();
        const result = await transport.run({ script: 'npm ci --omit=dev --no-audit --no-fund' }, { cwd: dir, timeoutMs: 300_000 });
        reference.push(performance.now() - started);
        if (result.code !== 0) throw new Error(`npm ci failed: ${result.stderr}`);
      }
    } finally {
      await transport.close();
    }

    const oursMs = median(ours);
    const npmMs = median(reference);
    const lines = [
      '| case | median | runs |',
      '| --- | --- | --- |',
      `| install step, unchanged lockfile (mcp-deploy) | ${oursMs.toFixed(0)} ms | ${ours.map((ms) => ms.toFixed(0)).join(', ')} |`,
      `| npm ci --omit=dev by hand, warm cache | ${npmMs.toFixed(0)} ms | ${reference.map((ms) => ms.toFixed(0)).join(', ')} |`,
      `| asking the host for node and npm (before the upload) | ${median(probes).toFixed(0)} ms | ${probes.map((ms) => ms.toFixed(0)).join(', ')} |`,
      '',
      `ratio ours / npm ci: ${(oursMs / npmMs).toFixed(3)} for the install step, ${((oursMs + median(probes)) / npmMs).toFixed(3)} with the host question (npm ci is ${(npmMs / (oursMs + median(probes))).toFixed(0)}× both); the first deploy's install (npm ci in shared/deps): ${firstInstall} ms`,
    ];
    console.log(
      `\ninstall benchmark: @modelcontextprotocol/server 2.4.0 (3 packages), over a real sshd on loopback\n${lines.join('\n')}\n`,
    );
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/install.md', `${lines.join('\n')}\n`);
    expect(ours).toHaveLength(runs);
  },
  900_000,
);
