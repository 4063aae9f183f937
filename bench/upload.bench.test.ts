import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Config } from '../source/config/load.js';
import { hostLayout } from '../source/host/layout.js';
import { connectSsh } from '../source/remote/connect.js';
import type { Compression } from '../source/remote/compression.js';
import { prepareRelease, uploadRelease, type UploadResult } from '../source/engine/steps/upload.js';
import type { StepContext } from '../source/run/step.js';
import { sshdSkipReason, startLatencyRelay, startSshd, type LatencyRelay, type SshdHandle } from '../test/harness/index.js';
import { makeTree, type TreeName } from './trees.js';

/**
 * The upload against what an operator would otherwise use, through the same sshd and the same
 * latency-adding relay, in the same run: `rsync -a` for a first upload, `rsync -a --link-dest`
 * for one changed file. mcp-deploy's figure is connect + the upload step (prepare, the tar stream,
 * the host's check, publish), as rsync's includes its own connect. Wire bytes are what crossed
 * the relay both ways. Ratios are ours / rsync: lower is better.
 *
 *   npm run bench        (BENCH_RTTS=0,40,100  BENCH_TREES=text4k,data400)
 */
const rtts = (process.env['BENCH_RTTS'] ?? '0,40,100').split(',').map(Number);
const trees = (process.env['BENCH_TREES'] ?? 'text4k,data400').split(',') as TreeName[];
const skip = await sshdSkipReason();

let sshd: SshdHandle;
let relay: LatencyRelay;
let scratch: string;
let knownHosts: string;

beforeAll(async () => {
  sshd = await startSshd();
  relay = await startLatencyRelay(sshd.port);
  scratch = mkdtempSync(join(tmpdir(), 'mcpd-bench-upload-'));
  knownHosts = join(scratch, 'known_hosts');
  writeFileSync(knownHosts, `[127.0.0.1]:${relay.port} ${sshd.hostPublicKey}\n`);
  process.env['MCP_DEPLOY_CACHE_DIR'] = join(scratch, 'cache');
}, 120_000);

afterAll(async () => {
  await relay?.close();
  await sshd?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

type Measure = { ms: number; up: number; down: number; roundTrips: number };

async function measured(run: () => Promise<void> | void): Promise<Measure> {
  relay.resetCounters();
  const started = performance.now();
  await run();
  const ms = performance.now() - started;
  const { up, down, roundTrips } = relay.counters();
  return { ms, up, down, roundTrips };
}

const ssh = () =>
  [
    'ssh',
    '-i',
    sshd.identityFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-F',
    '/dev/null',
    '-p',
    String(relay.port),
  ].join(' ');

/** Asynchronous: the relay runs in this process, so a synchronous child would stall it. */
function rsync(args: readonly string[], source: string, destination: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('rsync', ['-a', '-e', ssh(), ...args, `${source}/`, `${sshd.user}@127.0.0.1:${destination}/`], (error, _stdout, stderr) =>
      error ? reject(new Error(`rsync failed: ${stderr}`)) : resolve(),
    );
  });
}

const noStep: StepContext = { progress: () => {}, log: () => {}, detail: () => {} };

/** connect + the upload step, exactly as a deploy runs it. */
async function ours(
  source: string,
  root: string,
  release: string,
  base: string | null,
  compression?: Compression,
): Promise<{ measure: Measure; result: UploadResult; hashMs: number }> {
  const config = { source, exclude: [] } as unknown as Config;
  const hashStarted = performance.now();
  const local = await prepareRelease(config);
  const hashMs = performance.now() - hashStarted;
  let result: UploadResult | undefined;
  const measure = await measured(async () => {
    const transport = await connectSsh({
      host: '127.0.0.1',
      port: relay.port,
      user: sshd.user,
      identityFile: sshd.identityFile,
      knownHostsFile: knownHosts,
      agent: false,
    });
    try {
      result = await uploadRelease({
        transport,
        layout: hostLayout(root),
        config,
        release,
        base,
        local,
        meta: { createdAt: new Date().toISOString(), gitSha: null, operator: 'bench', requirementsHash: null },
        step: noStep,
        signal: new AbortController().signal,
        ...(compression ? { compression } : {}),
      });
    } finally {
      await transport.close();
    }
  });
  return { measure, result: result!, hashMs };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(0)} KB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

it.skipIf(skip !== undefined)(
  'upload through a latency relay: mcp-deploy vs rsync -a and rsync --link-dest',
  async () => {
    const rows: string[] = [];
    const compressionRows: string[] = [];
    for (const treeName of trees) {
      const tree = join(scratch, `tree-${treeName}`);
      mkdirSync(tree);
      const shape = makeTree(tree, treeName);
      for (const rtt of rtts) {
        relay.rttMs = rtt;
        const at = (name: string) => join(sshd.workDir, `${treeName}-${rtt}`, name);
        spawnSync('mkdir', ['-p', join(sshd.workDir, `${treeName}-${rtt}`)]);
        spawnSync('chown', [`${sshd.uid}:${sshd.gid}`, join(sshd.workDir, `${treeName}-${rtt}`)]);
        const rsyncFirst = await measured(() => rsync([], tree, at('rsync-1')));
        const first = await ours(tree, at('ours'), 'r1', null);
        // The other compressions for the same first upload: what the choice is measured against.
        const others: { name: Compression; measure: Measure }[] = [];
        for (const name of ['gzip', 'none'] as const)
          others.push({ name, measure: (await ours(tree, at(`ours-${name}`), 'r1', null, name)).measure });

        // One file changes: the rest must not cross the wire.
        writeFileSync(join(tree, 'server.py'), `print("bench ${rtt}")\n`);
        const rsyncDelta = await measured(() => rsync([`--link-dest=${at('rsync-1')}`], tree, at('rsync-2')));
        const delta = await ours(tree, at('ours'), 'r2', 'r1');
        // The same from a machine whose cache does not know the base release: its manifest comes over, compressed.
        rmSync(join(scratch, 'cache'), { recursive: true, force: true });
        writeFileSync(join(tree, 'server.py'), `print("bench ${rtt}, cold")\n`);
        const cold = await ours(tree, at('ours'), 'r3', 'r2');
        expect(delta.result.files).toBe(1);
        expect(cold.result.files).toBe(1);

        const row = (name: string, mine: Measure, theirs: Measure, goal: number) =>
          `| ${treeName} (${shape.files} files, ${(shape.bytes / 1048576).toFixed(1)} MB) | ${rtt} ms | ${name} | ${seconds(mine.ms)} | ${seconds(theirs.ms)} | **${(mine.ms / theirs.ms).toFixed(2)}** (goal ≤ ${goal}) | ${kb(mine.up)} + ${kb(mine.down)} | ${kb(theirs.up)} + ${kb(theirs.down)} | ${mine.roundTrips} | ${theirs.roundTrips} |`;
        rows.push(row('first upload', first.measure, rsyncFirst, 1.0));
        rows.push(row('one file changed', delta.measure, rsyncDelta, 0.5));
        rows.push(row('one file changed, cold cache', cold.measure, rsyncDelta, 0.5));
        compressionRows.push(
          `| ${treeName} | ${rtt} ms | ${first.result.compression} ${seconds(first.measure.ms)}, ${kb(first.measure.up)} up | ${others
            .map((other) => `${other.name} ${seconds(other.measure.ms)}, ${kb(other.measure.up)} up`)
            .join(' | ')} | ${seconds(first.hashMs)} |`,
        );
      }
    }
    const lines = [
      '| tree | RTT | case | mcp-deploy | rsync | ours / rsync | wire ours (up + down) | wire rsync (up + down) | round trips ours | round trips rsync |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
      'First upload by compression (mcp-deploy, connect + upload), and the local hashing before it (not in the figures above):',
      '',
      '| tree | RTT | chosen | gzip (level 1) | none | local hashing |',
      '| --- | --- | --- | --- | --- | --- |',
      ...compressionRows,
    ];
    const text = lines.join('\n');
    console.log(`\nupload through the latency relay (${new Date().toISOString()})\n${text}\n`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/upload.md', `${text}\n`);
  },
  3_600_000,
);
