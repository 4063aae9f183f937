import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { connectSsh } from '../../source/remote/connect.js';
import { sshdSkipReason, startLatencyRelay, type LatencyRelay } from '../harness/index.js';
import { createWorld, type World } from '../e2e/world.js';
import { runCli, startCli, type CliEnd } from './cli-process.js';
import { cliConfigFile, hostFacts, judge, killStrays } from './host-facts.js';

/**
 * Issue 13, item 2: a release's bytes must be the bytes of its manifest, over SSH as the
 * unprivileged deploy user. Each repro of the issue fails without its fix: the file read for the
 * upload is the file that was hashed (opened once, without following a symlink, hashed while
 * sent), files in releases are read-only so an in-place edit cannot spread through shared inodes,
 * a linked file that changed on the host is sent again, and `verify-release` checks any release.
 * And a cut mid-stream leaves only a `.partial`, which the next deploy removes.
 */

const sshSkip = await sshdSkipReason();
const out = (run: CliEnd) => `${run.stdout}\n${run.stderr}`;
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

describe.skipIf(sshSkip !== undefined)(`release integrity over SSH${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, () => {
  let world: World;
  let config: string;
  const deployCli = (extra: string[] = [], fault?: string) =>
    runCli(['--yes', '--skip-validate', ...extra, '--config', config], { timeoutMs: 120_000, ...(fault ? { fault } : {}) });
  const change = (note: string) => world.editServer((text) => `${text}\n# ${note}\n`);
  const releases = () => readdirSync(join(world.hostRoot, 'releases')).sort();
  const data = () => join(world.project, 'data.txt');
  /**
   * Replaces data.txt (never writes through it: in one test it is a symlink, and these tests run
   * as root). The symlink points at a decoy outside the tree, standing in for /etc/passwd.
   */
  const setData = (content: string) => {
    rmSync(data(), { force: true });
    writeFileSync(data(), content);
  };
  const decoy = () => join(world.project, '..', 'outside-secret.txt');
  /** A command as the deploy user on the host (the tests themselves run as root, which ignores modes). */
  const asDeployUser = async (script: string) => {
    const transport = await world.connect();
    try {
      return await transport.run({ script }, { cwd: world.hostRoot });
    } finally {
      await transport.close();
    }
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    setData('the data as it was hashed\n');
    writeFileSync(decoy(), 'root:x:0:0:a secret outside the source tree\n');
    config = cliConfigFile(world, 'integrity');
    const first = await deployCli();
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    if (world) killStrays(world);
    await world?.stop();
  });

  /** Deploys, pausing at the upload's start to do `meanwhile` to the source, then lets it go on. */
  async function changedDuringUpload(meanwhile: () => void): Promise<CliEnd> {
    // New bytes, so the file is one the upload sends (an unchanged one is linked on the host and never read).
    setData('the data of the next release\n');
    const cli = startCli(['--yes', '--skip-validate', '--config', config], { fault: 'upload:start:pause', timeoutMs: 120_000 });
    try {
      await cli.waitForOutput(/FAULT-PAUSE upload:start/);
      meanwhile();
      cli.signal('SIGUSR2');
      return await cli.ended;
    } finally {
      cli.signal('SIGKILL');
    }
  }

  it('a file replaced by a symlink out of the tree (the issue used /etc/passwd) between hashing and upload is refused by name; the host never holds its target', async () => {
    const before = releases();
    const facts = await hostFacts(world);
    try {
      const run = await changedDuringUpload(() => {
        rmSync(data());
        symlinkSync(decoy(), data());
      });
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toContain('data.txt changed after it was hashed (it is now a symlink); it was not uploaded.');
      // Nothing new on the host, not even a partial upload: the old release serves as before.
      expect(releases()).toEqual(before);
      expect((await hostFacts(world)).serving).toEqual(facts.serving);
      const secret = readFileSync(decoy(), 'utf8');
      for (const release of releases().filter((name) => !name.startsWith('.')))
        expect(readFileSync(join(world.hostRoot, 'releases', release, 'data.txt'), 'utf8')).not.toBe(secret);
    } finally {
      setData('the data as it was hashed\n');
    }
  }, 120_000);

  it('a file rewritten with other bytes of the same size between hashing and upload is refused by name', async () => {
    const before = releases();
    try {
      const run = await changedDuringUpload(() => setData('THE DATA OF THE NEXT RELEASE\n'));
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toContain(
        'data.txt changed after it was hashed (its bytes are not the ones that were hashed); it was not uploaded.',
      );
      expect(releases()).toEqual(before);
      expect(judge(await hostFacts(world)).verdict).toBe('consistent');
    } finally {
      setData('the data as it was hashed\n');
    }
  }, 120_000);

  it('a writer rewriting a file every 20 ms: each deploy either refuses it by name or publishes exactly the bytes of its manifest', async () => {
    let writes = 0;
    const writer = setInterval(() => {
      writes += 1;
      setData(`version ${writes} of the data, rewritten under the deploy\n`);
    }, 20);
    const outcomes: string[] = [];
    try {
      for (const note of ['busy 1', 'busy 2']) {
        change(note);
        const run = await deployCli();
        if (run.code === 0) {
          const verified = await runCli(['verify-release', '--config', config]);
          expect(verified.code, out(verified)).toBe(0);
          outcomes.push('published, verified');
        } else {
          expect(run.code, out(run)).toBe(1);
          // The writer removes the file before it writes it again: caught in that moment, it is named as gone.
          expect(run.stdout).toMatch(
            /data\.txt (changed after it was hashed|disappeared while the release's files were being (listed|hashed))/,
          );
          outcomes.push('refused by name');
        }
      }
    } finally {
      clearInterval(writer);
      setData('the data as it was hashed\n');
    }
    console.log(`writer every 20 ms (${writes} writes): ${outcomes.join('; ')}`);
    expect(judge(await hostFacts(world)).verdict).toBe('consistent');
  }, 180_000);

  it('files in a release are read-only: an in-place edit fails loudly; a forced one is not carried into the next release', async () => {
    change('the data as it was hashed, active');
    const fresh = await deployCli();
    expect(fresh.code, out(fresh)).toBe(0);
    const edit = await asDeployUser("echo 'tampered' >> current/data.txt");
    expect(edit.code).not.toBe(0);
    expect(edit.stderr).toMatch(/Permission denied/);
    expect(readFileSync(join(world.hostRoot, 'current', 'data.txt'), 'utf8')).toBe('the data as it was hashed\n');

    // The deploy user can still force it: the next deploy sees the size differ from the manifest and sends the file.
    const forced = await asDeployUser("chmod u+w current/data.txt && echo 'tampered' >> current/data.txt");
    expect(forced.code, forced.stderr).toBe(0);
    const tampered = readFileSync(join(world.hostRoot, 'current', 'data.txt'), 'utf8');
    const oldRelease = (await hostFacts(world)).serving;
    change('after an in-place edit');
    const run = await deployCli(['--verbose']);
    expect(run.code, out(run)).toBe(0);
    expect(run.stdout).toContain("1 linked file(s) differ from the base release's manifest (changed on the host?): sending them again");
    expect(readFileSync(join(world.hostRoot, 'current', 'data.txt'), 'utf8')).toBe('the data as it was hashed\n');
    const verified = await runCli(['verify-release', '--config', config]);
    expect(verified.code, out(verified)).toBe(0);
    expect(verified.stdout).toMatch(/matches its manifest: \d+ files, sizes and sha256/);
    // The tampered release is reported by verify-release, naming the file; it was left as it is.
    const old = 'release' in oldRelease ? String(oldRelease.release) : '';
    expect(readFileSync(join(world.hostRoot, 'releases', old, 'data.txt'), 'utf8')).toBe(tampered);
    const bad = await runCli(['verify-release', old, '--config', config]);
    expect(bad.code, out(bad)).toBe(1);
    expect(bad.stdout).toContain(
      `data.txt: ${Buffer.byteLength(tampered)} bytes instead of ${Buffer.byteLength('the data as it was hashed\n')}`,
    );
  }, 180_000);

  it('--verify-all hashes every file on the host: a same-size edit of a linked file is caught and the file sent again', async () => {
    const forced = await asDeployUser("chmod u+w current/data.txt && printf 'THE DATA AS IT WAS HASHED\\n' > current/data.txt");
    expect(forced.code, forced.stderr).toBe(0);
    change('verify all');
    const run = await deployCli(['--verify-all', '--verbose']);
    expect(run.code, out(run)).toBe(0);
    expect(run.stdout).toMatch(/checked on the host: (\d+) sizes, \1 sha256/);
    expect(run.stdout).toContain('1 linked file(s) differ');
    expect(sha256(readFileSync(join(world.hostRoot, 'current', 'data.txt')))).toBe(sha256('the data as it was hashed\n'));
  }, 120_000);
});

describe.skipIf(sshSkip !== undefined)(`a connection cut in the middle of the stream${sshSkip ? ` (skipped: ${sshSkip})` : ''}`, () => {
  let world: World;
  let relay: LatencyRelay;
  let knownHosts: string;

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    relay = await startLatencyRelay(world.sshd!.port);
    knownHosts = join(world.project, '..', 'relay_known_hosts');
    writeFileSync(knownHosts, `[127.0.0.1]:${relay.port} ${world.sshd!.hostPublicKey}\n`);
    const first = await deploy(viaRelay().context, { skipValidate: true });
    expect(first.error).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await relay?.close();
    if (world) killStrays(world);
    await world?.stop();
  });

  /** A deploy context whose one connection goes through the relay. */
  const viaRelay = () => {
    const made = world.context({ config: world.config({}, { port: relay.port, knownHosts }) });
    const sshd = world.sshd!;
    const connect = () =>
      connectSsh({ host: sshd.host, port: relay.port, user: sshd.user, identityFile: sshd.identityFile, knownHostsFile: knownHosts });
    return { context: { ...made.context, connect }, events: made.events };
  };

  it('leaves only a .partial folder, never listed as a release, and the next deploy removes it', async () => {
    const before = readdirSync(join(world.hostRoot, 'releases')).sort();
    // 8 MB that does not compress: the cut lands while the archive is on its way.
    writeFileSync(
      join(world.project, 'random.bin'),
      Buffer.alloc(8 * 1024 * 1024).map(() => Math.floor(Math.random() * 256)),
    );
    const cut = relay.cutAfterUpBytes(3 * 1024 * 1024);
    const { context, events } = viaRelay();
    const summary = await deploy(context, { skipValidate: true });
    console.log(`cut: ${JSON.stringify(relay.counters())}, ${summary.error?.message}`);
    await cut;
    expect(summary.exitCode, JSON.stringify(summary.error)).toBe(3);
    expect(summary.error?.step).toBe('upload');
    expect(events.some((event) => event.kind === 'step:start' && event.step === 'upload')).toBe(true);
    // And the archive was taken apart: no file of the project is still open in this process
    // (it was, until garbage collection closed it with a warning).
    expect(openFilesUnder(world.project)).toEqual([]);
    const after = readdirSync(join(world.hostRoot, 'releases')).sort();
    const added = after.filter((name) => !before.includes(name));
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^\..*\.partial$/);
    expect(judge(await hostFacts(world)).verdict).toBe('consistent');

    // The cut run could not release its lock, and its pid (this test's) still runs: remove it as `unlock --force` would.
    rmSync(join(world.hostRoot, 'deploy.lock'), { recursive: true, force: true });
    const again = await deploy(viaRelay().context, { skipValidate: true });
    expect(again.error, JSON.stringify(again.error)).toBeUndefined();
    const final = readdirSync(join(world.hostRoot, 'releases'));
    expect(final.filter((name) => name.endsWith('.partial'))).toEqual([]);
    expect(final).toContain(again.release);
  }, 180_000);
});

/** Files under `dir` this process holds open (its /proc/self/fd links). */
function openFilesUnder(dir: string): string[] {
  const open: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(join('/proc/self/fd', fd));
      if (target.startsWith(`${dir}/`)) open.push(target);
    } catch {
      // closed between the listing and the read
    }
  }
  return open;
}
