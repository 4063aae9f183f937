import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  createReadStream,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../harness/system.js';
import { sshdSkipReason } from '../harness/index.js';
import { createWorld, exampleServer, type World } from '../e2e/world.js';
import { runCli, type CliEnd } from './cli-process.js';
import { cliConfigFile, hostFacts, judge, killStrays, treeSnapshot } from './host-facts.js';

/**
 * Source trees and command lines that try to break mcp-deploy, deployed over a real SSH server
 * as an unprivileged user: names full of shell syntax and control characters (they must arrive
 * byte-identical, and nothing may run), symlink loops and links out of the tree, an empty tree,
 * a 1 GiB sparse file (streamed, never held in memory), path traversal in a release id or a
 * target name, and a release dir made by hand.
 */

const sshSkip = await sshdSkipReason();
const out = (run: CliEnd) => `${run.stdout}\n${run.stderr}`;

/** Canary files that a name, if ever evaluated by a shell, would create (in the home of the shell's user). */
const canaryNames = ['pwned-dollar', 'pwned-tick', 'pwned-semi', 'pwned-pipe', 'pwned-amp', 'pwned-sq', 'pwned-dir', 'pwned-py'];

const hostileNames = [
  'with space.txt',
  '  leading and trailing  ',
  "quote'single.txt",
  'quote"double.txt',
  'new\nline.txt',
  'carriage\rreturn.txt',
  'tab\tname.txt',
  '$(cd;touch pwned-dollar)',
  '`cd;touch pwned-tick`',
  'semi;cd;touch pwned-semi;',
  'pipe|cd;touch pwned-pipe',
  'amp&&cd;touch pwned-amp',
  "'; cd;touch pwned-sq; '",
  '-rf',
  '--help',
  '-n leading dash.txt',
  'glob*?[x].txt',
  'back\\slash.txt',
  'dollar$HOME.txt',
  'percent%s%n.txt',
  '#hash.txt',
  '!bang.txt',
  'unicode-é-日本-🚀.txt',
  '...',
  '.hidden',
];

async function sha256(path: string | Buffer): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Every file, dir and symlink under `root` (skipping `skip` at the top), with content hashes: two
 * equal results mean byte-identical trees. File modes are compared without their write bits,
 * which a release takes off its files. Names are read as bytes and keyed as latin1 text, so a
 * name that is not UTF-8 is compared byte for byte too.
 */
async function treeDigest(root: string, skip: readonly string[] = []): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  const walk = async (dir: Buffer, prefix: string) => {
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      if (prefix === '' && skip.includes(name.toString('latin1'))) continue;
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const rel = `${prefix}${name.toString('latin1')}`;
      const info = lstatSync(path);
      if (info.isSymbolicLink()) result.set(rel, `link ${readlinkSync(path, { encoding: 'buffer' }).toString('hex')}`);
      else if (info.isDirectory()) {
        result.set(`${rel}/`, `dir ${(info.mode & 0o777).toString(8)}`);
        await walk(path, `${rel}/`);
      } else result.set(rel, `file ${(info.mode & 0o555).toString(8)} ${info.size} ${await sha256(path)}`);
    }
  };
  await walk(Buffer.from(root), '');
  return result;
}

/** Makes every folder under `root` owner-writable again, so that a read-only one can be cleaned up. */
function ownerWritable(root: string | Buffer): void {
  chmodSync(root, 0o755);
  for (const name of readdirSync(root, { encoding: 'buffer' })) {
    const path = Buffer.concat([Buffer.from(root), Buffer.from('/'), name]);
    if (lstatSync(path).isDirectory()) ownerWritable(path);
  }
}

function canariesFound(world: World): string[] {
  const homes = [
    homedir(),
    '/home/mcpdeploy',
    '/home/mcpdeploy-bash',
    world.sshd?.homeDir ?? '',
    world.hostRoot,
    process.cwd(),
    tmpdir(),
  ].filter(Boolean);
  return homes.flatMap((dir) => canaryNames.map((name) => join(dir, name))).filter((path) => existsSync(path));
}

function copyExample(dir: string): void {
  cpSync(exampleServer, dir, { recursive: true, filter: (path) => !path.includes('__pycache__') });
}

describe.skipIf(sshSkip !== undefined)(`bad input over SSH${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, () => {
  let world: World;
  let config: string;
  let scratch: string;
  const deployWith = (configFile: string, extra: string[] = [], options: Parameters<typeof runCli>[1] = {}) =>
    runCli(['--yes', ...extra, '--config', configFile], { timeoutMs: 240_000, ...options });

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    scratch = mkdtempSync(join(tmpdir(), 'mcpd-bad-input-'));
    config = cliConfigFile(world, 'bad-input');
    const first = await deployWith(config, ['--skip-validate']);
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (world) killStrays(world);
    await world?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('names with spaces, quotes, newlines, $(...), backticks and leading dashes arrive byte-identical, and nothing is executed', async () => {
    const project = join(scratch, 'hostile');
    copyExample(project);
    const data = join(project, 'data');
    mkdirSync(data);
    for (const [index, name] of hostileNames.entries()) {
      writeFileSync(join(data, name), Buffer.concat([Buffer.from(`${index}:`), createHash('sha256').update(name).digest()]));
    }
    const odd = join(data, 'dir with space', '-x $(cd;touch pwned-dir)');
    mkdirSync(odd, { recursive: true });
    writeFileSync(join(odd, "file 'in' odd\ndir"), 'nested');
    // A Python file with a hostile name goes through the local syntax check too.
    writeFileSync(join(project, '$(cd;touch pwned-py) odd name.py'), 'VALUE = 1\n');
    symlinkSync('with space.txt', join(data, 'link to $(cd;touch pwned-dollar)'));
    const configFile = cliConfigFile(world, 'bad-input-hostile', { source: project });

    // Full validation this time: the local checks see the same names.
    const run = await deployWith(configFile);
    expect(run.code, out(run)).toBe(0);
    const current = join(world.hostRoot, 'current');
    const local = await treeDigest(project);
    const remote = await treeDigest(current, ['.mcp-deploy']);
    expect([...remote.keys()].sort()).toEqual([...local.keys()].sort());
    for (const [path, digest] of local) expect(remote.get(path), path).toBe(digest);
    expect(canariesFound(world)).toEqual([]);
    // The manifest on the host names them exactly as well.
    const manifest = JSON.parse(readFileSync(join(current, '.mcp-deploy', 'manifest.json'), 'utf8')) as { path: string }[];
    expect(manifest.map((entry) => entry.path)).toEqual(expect.arrayContaining(hostileNames.map((name) => `data/${name}`)));
    // And a second deploy hard-links every one of them (names survive the link path too).
    writeFileSync(join(project, 'server.py'), `${readFileSync(join(project, 'server.py'), 'utf8')}\n# again\n`);
    const again = await deployWith(configFile, ['--skip-validate']);
    expect(again.code, out(again)).toBe(0);
    expect(again.stdout).toMatch(/1 file\(s\) sent, .*; \d+ unchanged linked/);
    const relinked = await treeDigest(join(world.hostRoot, 'current'), ['.mcp-deploy']);
    for (const [path, digest] of await treeDigest(project)) expect(relinked.get(path), path).toBe(digest);
    expect(canariesFound(world)).toEqual([]);
  }, 240_000);

  it('names that are not UTF-8 arrive byte-identical, are hard-linked on the next deploy, and read-only folders are pruned', async () => {
    const project = join(scratch, 'latin1');
    copyExample(project);
    const latin1 = (...parts: (string | number[])[]) =>
      Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));
    const at = (...parts: (string | number[])[]) => latin1(project, '/', ...parts);
    mkdirSync(at('data'));
    // "café.txt" in Latin-1, bytes that are UTF-8 nowhere, a folder and a subfolder with such names.
    writeFileSync(at('data/caf', [0xe9], '.txt'), 'latin-1 name');
    writeFileSync(at('data/', [0xff, 0xfe], ' raw.bin'), Buffer.from([0, 1, 2, 255]));
    mkdirSync(at('data/r', [0xe9], 'pertoire/sous', [0xa0], 'dossier'), { recursive: true });
    writeFileSync(at('data/r', [0xe9], 'pertoire/inner.txt'), 'inside a Latin-1 folder');
    writeFileSync(at('data/r', [0xe9], 'pertoire/sous', [0xa0], 'dossier/deep', [0xe9], '.txt'), 'two levels down');
    // A symlink whose target is not UTF-8, and one whose own name is not.
    symlinkSync(latin1('caf', [0xe9], '.txt'), at('data/lien'));
    symlinkSync('../server.py', at('data/li', [0xe9], 'n'));
    // Read-only folders, one of them with a Latin-1 name, each holding a file.
    mkdirSync(at('data/lecture-seule'));
    writeFileSync(at('data/lecture-seule/fichier', [0xe9], '.txt'), 'in a read-only folder');
    mkdirSync(at('data/ro', [0xe9]));
    writeFileSync(at('data/ro', [0xe9], '/plain.txt'), 'in a read-only Latin-1 folder');
    chmodSync(at('data/lecture-seule'), 0o555);
    chmodSync(at('data/ro', [0xe9]), 0o555);
    // A Python module with such a name goes through the local syntax check.
    writeFileSync(at('mod', [0xe9], '.py'), 'VALUE = 1\n');
    const configFile = cliConfigFile(world, 'bad-input-latin1', { source: project, keepReleases: 1 });
    const releases = () => readdirSync(join(world.hostRoot, 'releases')).filter((name) => !name.startsWith('.'));
    try {
      const before = new Set(releases());
      const run = await deployWith(configFile);
      expect(run.code, out(run)).toBe(0);
      const first = releases().filter((id) => !before.has(id));
      expect(first).toHaveLength(1);
      const local = await treeDigest(project);
      expect(await treeDigest(join(world.hostRoot, 'current'), ['.mcp-deploy'])).toEqual(local);
      // The manifest names them by their bytes: a lone surrogate per byte that is not UTF-8.
      const manifest = readFileSync(join(world.hostRoot, 'current', '.mcp-deploy', 'manifest.json'), 'utf8');
      expect(manifest).toContain('"data/caf\\udce9.txt"');
      expect(manifest).toContain('"data/r\\udce9pertoire/sous\\udca0dossier/deep\\udce9.txt"');

      // The next deploy links them from the release before instead of sending them again.
      writeFileSync(join(project, 'server.py'), `${readFileSync(join(project, 'server.py'), 'utf8')}\n# again\n`);
      const again = await deployWith(configFile, ['--skip-validate']);
      expect(again.code, out(again)).toBe(0);
      expect(again.stdout).toMatch(/1 file\(s\) sent, .*; \d+ unchanged linked/);
      expect(await treeDigest(join(world.hostRoot, 'current'), ['.mcp-deploy'])).toEqual(await treeDigest(project));

      // With keepReleases 1, a third deploy prunes the first release, read-only folders and all.
      const third = await deployWith(configFile, ['--skip-validate']);
      expect(third.code, out(third)).toBe(0);
      expect(releases()).not.toContain(first[0]);
      expect(readdirSync(join(world.hostRoot, 'releases')).filter((name) => name.includes(first[0] as string))).toEqual([]);
      expect(out(third)).not.toMatch(/permission denied/i);
      expect(canariesFound(world)).toEqual([]);
    } finally {
      ownerWritable(project);
    }
  }, 240_000);

  it('symlink loops inside the tree ship as the links they are; a link out of the tree is refused and nothing changes', async () => {
    const project = join(scratch, 'links');
    copyExample(project);
    const links = join(project, 'links');
    mkdirSync(links);
    symlinkSync('loop-b', join(links, 'loop-a'));
    symlinkSync('loop-a', join(links, 'loop-b'));
    symlinkSync('self', join(links, 'self'));
    symlinkSync('..', join(links, 'up'));
    symlinkSync('.', join(links, 'here'));
    const configFile = cliConfigFile(world, 'bad-input-links', { source: project });
    const run = await deployWith(configFile);
    expect(run.code, out(run)).toBe(0);
    for (const name of ['loop-a', 'loop-b', 'self', 'up', 'here']) {
      expect(readlinkSync(join(world.hostRoot, 'current', 'links', name))).toBe(readlinkSync(join(links, name)));
    }

    const outside = join(scratch, 'outside');
    copyExample(outside);
    symlinkSync('/etc/passwd', join(outside, 'passwd'));
    const outsideConfig = cliConfigFile(world, 'bad-input-outside', { source: outside });
    const before = treeSnapshot(world.hostRoot);
    const refused = await deployWith(outsideConfig, ['--skip-validate']);
    expect(refused.code, out(refused)).toBe(1);
    expect(out(refused)).toContain('passwd -> /etc/passwd points outside the source folder');
    rmSync(join(outside, 'passwd'));
    symlinkSync('../links/..', join(outside, 'sneaky'));
    const sneaky = await deployWith(outsideConfig, ['--skip-validate']);
    expect(sneaky.code, out(sneaky)).toBe(1);
    expect(out(sneaky)).toContain('sneaky -> ../links/.. points outside the source folder');
    expect(treeSnapshot(world.hostRoot)).toEqual(before);
  }, 240_000);

  it('an empty source tree, or one without its requirements file, is refused with a message before the host is touched', async () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    const configFile = cliConfigFile(world, 'bad-input-empty', { source: empty });
    const before = treeSnapshot(world.hostRoot);
    const facts = await hostFacts(world);
    for (const extra of [[], ['--skip-validate']]) {
      const run = await deployWith(configFile, extra);
      expect(run.code, out(run)).not.toBe(0);
      console.log(
        `empty tree ${extra.join(' ') || '(with validation)'}: exit ${run.code}: ${out(run)
          .split('\n')
          .filter((line) => /✖|→/.test(line) || /^\s{4}\S/.test(line))
          .slice(0, 4)
          .join(' | ')}`,
      );
      // With validation the local checks catch it first; without, the upload step refuses it.
      expect(out(run)).toMatch(
        extra.length === 0
          ? /✖ Ontologies parse as Turtle[\s\S]*matched no file/
          : /✖ Hash the release files[\s\S]*Nothing to deploy: the source folder .*empty has no files/,
      );
      expect(treeSnapshot(world.hostRoot)).toEqual(before);
    }
    expect(await hostFacts(world)).toEqual(facts);

    // A missing requirements file is found while the release files are hashed (what the install
    // reads is checked there), before the host is touched.
    const noRequirements = join(scratch, 'no-requirements');
    copyExample(noRequirements);
    rmSync(join(noRequirements, 'requirements.txt'));
    const missing = await deployWith(cliConfigFile(world, 'bad-input-no-req', { source: noRequirements }), ['--skip-validate']);
    expect(missing.code, out(missing)).toBe(2);
    expect(missing.stdout).toMatch(
      /✖ Hash the release files[\s\S]*runtime\.requirements: requirements\.txt was not found in .*no-requirements/,
    );
    expect(treeSnapshot(world.hostRoot)).toEqual(before);
  }, 120_000);

  it('a 1 GiB sparse file is streamed: it arrives intact and sparse, the CLI stays small, and the next deploy links it instead of sending it again', async () => {
    const project = join(scratch, 'huge');
    copyExample(project);
    const huge = join(project, 'huge.bin');
    const made = await exec('truncate', ['-s', '1G', huge]);
    expect(made.code, made.stderr).toBe(0);
    // A few real bytes in the middle, so "arrived intact" is more than "arrived as zeros".
    const patch = await exec('sh', [
      '-c',
      'printf "middle of a huge file" | dd of="$1" bs=1 seek=536870912 conv=notrunc status=none',
      'sh',
      huge,
    ]);
    expect(patch.code, patch.stderr).toBe(0);
    const configFile = cliConfigFile(world, 'bad-input-huge', { source: project });
    const timed = await deployWith(configFile, ['--skip-validate'], { wrapper: ['/usr/bin/time', '-v'] });
    expect(timed.code, out(timed)).toBe(0);
    const peakKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(timed.stderr)?.[1]);
    const seconds = timed.ms / 1000;
    console.log(
      `huge file: 1 GiB deployed over SSH in ${seconds.toFixed(1)} s (${(1024 / seconds).toFixed(0)} MiB/s); CLI peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`,
    );
    expect(peakKiB).toBeGreaterThan(0);
    // Node itself is ~60-100 MiB; a CLI that read the file into memory would be over 1 GiB.
    expect(peakKiB).toBeLessThan(400 * 1024);
    const remote = join(world.hostRoot, 'current', 'huge.bin');
    expect(lstatSync(remote).size).toBe(1024 ** 3);
    expect(await sha256(remote)).toBe(await sha256(huge));
    // It stays sparse: a GNU sparse member carries only its data (a page here), not 1 GiB of zeros.
    const allocated = lstatSync(remote).blocks * 512;
    console.log(`huge file: ${(allocated / 1024).toFixed(0)} KiB allocated on the host for 1 GiB`);
    expect(allocated).toBeLessThan(1024 * 1024);

    writeFileSync(join(project, 'server.py'), `${readFileSync(join(project, 'server.py'), 'utf8')}\n# small change\n`);
    const again = await deployWith(configFile, ['--skip-validate']);
    expect(again.code, out(again)).toBe(0);
    expect(again.stdout).toMatch(/1 file\(s\) sent, .*; 7 unchanged linked/);
    // Drop the GiB releases now: later tests need neither the disk nor the time. The same deploy
    // without the big file gives the baseline peak RSS to compare with.
    rmSync(huge);
    const back = await deployWith(config, ['--skip-validate'], { wrapper: ['/usr/bin/time', '-v'] });
    expect(back.code, out(back)).toBe(0);
    const baselineKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(back.stderr)?.[1]);
    console.log(`huge file: baseline peak RSS of a small deploy ${(baselineKiB / 1024).toFixed(0)} MiB`);
  }, 300_000);

  it('path traversal in a release id or a target name: exit 2, the host unchanged', async () => {
    const before = treeSnapshot(world.hostRoot);
    const attempts: { args: string[]; expect: RegExp }[] = [
      { args: ['rollback', '../../etc'], expect: /Not a valid release id: "\.\.\/\.\.\/etc"/ },
      { args: ['rollback', '..'], expect: /Not a valid release id: "\.\."/ },
      { args: ['rollback', 'a/b'], expect: /Not a valid release id/ },
      { args: ['rollback', '.hidden'], expect: /Not a valid release id/ },
      { args: ['rollback', 'x\ny'], expect: /Not a valid release id/ },
      { args: ['rollback', '--', '-rf'], expect: /Not a valid release id: "-rf"/ },
      { args: ['--target', '../x'], expect: /target/i },
      { args: ['rollback', '--target', '../../etc'], expect: /target/i },
      { args: ['status', '--target', '../x'], expect: /target/i },
    ];
    for (const attempt of attempts) {
      // Options go before a `--`, after which everything is an argument.
      const split = attempt.args.indexOf('--');
      const args =
        split === -1
          ? [...attempt.args, '--yes', '--config', config]
          : [...attempt.args.slice(0, split), '--yes', '--config', config, ...attempt.args.slice(split)];
      const run = await runCli(args, { timeoutMs: 60_000 });
      expect(run.code, `${attempt.args.join(' ')}\n${out(run)}`).toBe(2);
      expect(out(run), attempt.args.join(' ')).toMatch(attempt.expect);
    }
    expect(treeSnapshot(world.hostRoot)).toEqual(before);
  }, 180_000);

  it('a host layout made by hand: a release dir without metadata is listed and can be rolled back to; a badly named dir is left alone', async () => {
    const handmade = '20200101T000000Z-handmade';
    const dir = join(world.hostRoot, 'releases', handmade);
    copyExample(dir);
    const junk = join(world.hostRoot, 'releases', 'old copy');
    mkdirSync(junk);
    writeFileSync(join(junk, 'keep.txt'), 'not a release');
    const chown = await exec('chown', ['-R', `${world.sshd!.uid}:${world.sshd!.gid}`, dir, junk]);
    expect(chown.code, chown.stderr).toBe(0);

    const listed = await runCli(['releases', '--json', '--config', config]);
    expect(listed.code, out(listed)).toBe(0);
    const rows = (JSON.parse(listed.stdout) as { releases: { id: string; metadata: string; createdAt: string | null }[] }).releases;
    expect(rows.find((row) => row.id === handmade)).toMatchObject({ metadata: 'missing', createdAt: null });
    expect(rows.map((row) => row.id)).not.toContain('old copy');

    const rolled = await runCli(['rollback', handmade, '--yes', '--config', config]);
    expect(rolled.code, out(rolled)).toBe(0);
    const facts = await hostFacts(world);
    expect(judge(facts).verdict).toBe('consistent');
    expect(facts.serving).toEqual({ release: handmade });

    // From a hand-made base (no manifest), the next deploy sends everything and works.
    world.editServer((text) => `${text}\n# after handmade\n`);
    const next = await deployWith(config, ['--skip-validate']);
    expect(next.code, out(next)).toBe(0);
    expect(next.stdout).toMatch(/Upload release .* 0 unchanged linked/);
    expect(readFileSync(join(junk, 'keep.txt'), 'utf8')).toBe('not a release');
  }, 180_000);
});
