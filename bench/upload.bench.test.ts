import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectSsh } from '../source/remote/connect.js';
import { listSourceFiles } from '../source/project/source-files.js';
import { buildManifest, diffManifests } from '../source/engine/manifest.js';
import { planUpload } from '../source/engine/upload-plan.js';
import type { SshTransport } from '../source/remote/ssh-transport.js';
import { sshdSkipReason, startSshd, type SshdHandle } from '../test/harness/index.js';

/**
 * Upload speed and memory against the references an operator would otherwise use, in the same
 * process and over the same sshd: rsync and scp for a first upload, rsync --link-dest for a
 * one-file change. Reported as ratios (ours / reference): lower is better, 1.0 is parity.
 *
 *   npm run bench -- upload      (files and sizes: BENCH_FILES, BENCH_MB)
 */
const files = Number(process.env['BENCH_FILES'] ?? 400);
const megabytes = Number(process.env['BENCH_MB'] ?? 40);
const skip = await sshdSkipReason();

let sshd: SshdHandle;
let tree: string;
let transport: SshTransport;

beforeAll(async () => {
  sshd = await startSshd();
  tree = mkdtempSync(join(tmpdir(), 'mcpd-bench-tree-'));
  const sizes = Array.from({ length: files }, (_, index) => (index % 10 === 0 ? 8 : 1));
  const unit = Math.floor((megabytes * 1024 * 1024) / sizes.reduce((a, b) => a + b, 0));
  sizes.forEach((weight, index) => {
    const dir = join(tree, `pkg${index % 20}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${index}.bin`), randomBytes(weight * unit));
  });
  transport = await connectSsh({
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHostsFile: sshd.knownHostsFile,
    agent: false,
  });
}, 120_000);

afterAll(async () => {
  await transport?.close();
  await sshd?.stop();
  if (tree) rmSync(tree, { recursive: true, force: true });
});

function timed(run: () => void): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

async function timedAsync(run: () => Promise<void>): Promise<{ ms: number; peakRssMb: number }> {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = performance.now();
  try {
    await run();
  } finally {
    clearInterval(sampler);
  }
  return { ms: performance.now() - started, peakRssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 1048576) };
}

it.skipIf(skip !== undefined)(`upload: mcp-deploy vs rsync and scp (${files} files, ${megabytes} MB)`, async () => {
  const ssh = ['ssh', ...sshd.sshArgs().filter((arg) => arg !== sshd.user && !arg.endsWith(`@${sshd.host}`))].join(' ');
  const remote = (name: string) => join(sshd.workDir, name);
  const destination = (name: string) => `${sshd.user}@${sshd.host}:${remote(name)}/`;
  const check = (result: ReturnType<typeof spawnSync>, what: string) => {
    if (result.status !== 0) throw new Error(`${what} failed: ${String(result.stderr)}`);
  };

  const rsyncFull = timed(() => check(spawnSync('rsync', ['-a', '-e', ssh, `${tree}/`, destination('rsync-1')]), 'rsync'));
  const scpFull = timed(() =>
    check(
      spawnSync('scp', [
        '-q',
        '-r',
        '-P',
        String(sshd.port),
        '-i',
        sshd.identityFile,
        '-o',
        `UserKnownHostsFile=${sshd.knownHostsFile}`,
        '-o',
        'BatchMode=yes',
        tree,
        `${sshd.user}@${sshd.host}:${remote('scp-1')}`,
      ]),
      'scp',
    ),
  );

  const entries = await listSourceFiles({ source: tree, exclude: [] });
  const localFiles = entries.filter((entry) => entry.kind === 'file');
  const manifest = await buildManifest(localFiles);
  const full = planUpload(
    { dirs: entries.filter((e) => e.kind === 'dir'), files: localFiles, symlinks: [] },
    diffManifests(manifest, null),
    null,
  );
  const oursFull = await timedAsync(() => transport.uploadTree(remote('ours-1'), full));

  // One file changes: the rest must not cross the wire.
  writeFileSync(join(tree, 'pkg0', 'file-0.bin'), randomBytes(64 * 1024));
  const rsyncDelta = timed(() =>
    check(
      spawnSync('rsync', ['-a', '-e', ssh, `--link-dest=${remote('rsync-1')}`, `${tree}/`, destination('rsync-2')]),
      'rsync --link-dest',
    ),
  );
  const entries2 = await listSourceFiles({ source: tree, exclude: [] });
  const files2 = entries2.filter((entry) => entry.kind === 'file');
  const manifest2 = await buildManifest(files2);
  const delta = planUpload(
    { dirs: entries2.filter((e) => e.kind === 'dir'), files: files2, symlinks: [] },
    diffManifests(manifest2, manifest),
    remote('ours-1'),
  );
  const oursDelta = await timedAsync(() => transport.uploadTree(remote('ours-2'), delta));

  const rows = [
    ['first upload', oursFull.ms, rsyncFull, scpFull],
    ['one file changed', oursDelta.ms, rsyncDelta, Number.NaN],
  ] as const;
  const lines = [
    `| case | mcp-deploy | rsync | scp | ours/rsync | ours/scp |`,
    `| --- | --- | --- | --- | --- | --- |`,
    ...rows.map(
      ([name, ours, rsync, scp]) =>
        `| ${name} | ${ours.toFixed(0)} ms | ${rsync.toFixed(0)} ms | ${Number.isNaN(scp) ? '—' : `${scp.toFixed(0)} ms`} | ${(ours / rsync).toFixed(2)} | ${Number.isNaN(scp) ? '—' : (ours / scp).toFixed(2)} |`,
    ),
    '',
    `peak RSS of this process during mcp-deploy's upload: ${oursFull.peakRssMb} MB (first), ${oursDelta.peakRssMb} MB (delta)`,
  ];
  console.log(`\nupload benchmark: ${files} files, ${megabytes} MB, over a real sshd on loopback\n${lines.join('\n')}\n`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/upload.md', `${lines.join('\n')}\n`);
  // Not a speed assertion: only that every run really produced the trees it timed.
  expect(delta.filter((entry) => entry.kind === 'file')).toHaveLength(1);
});
