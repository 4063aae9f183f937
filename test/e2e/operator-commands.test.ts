import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshdSkipReason } from '../harness/index.js';
import { startTraffic } from './traffic.js';
import { createWorld, getJson, type World, writeCliConfig } from './world.js';

/**
 * The operator commands of issue #14 (audit, lock, config, restart, exec, logs --release/--grep/
 * --since, prune, shared dirs and files, dirty trees and --ref, reboot safety), each run as the
 * real binary against a host reached over a real sshd as an unprivileged user, in plain mode and
 * with --json, and each with bad input: a clear message, the right exit code, the host consistent.
 */
const skip = await sshdSkipReason();
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const canary = 'C4NARY-cmds-91d2';

type Audit = { operation: string; result: string; from: string | null; to: string | null; message?: string; command?: string };

describe.skipIf(skip !== undefined)(`operator commands over ssh${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let config: string;
  let v1 = '';

  const cli = (args: string[], options: { config?: string; env?: Record<string, string> } = {}) => {
    // Before a `--`: what follows it is exec's command.
    const end = args.indexOf('--') === -1 ? args.length : args.indexOf('--');
    const argv = [...args.slice(0, end), '--config', options.config ?? config, ...args.slice(end)];
    return execa(process.execPath, [bin, ...argv], {
      reject: false,
      cwd: world.project,
      env: { CI: 'true', NO_COLOR: '1', MCP_DEPLOY_OPERATOR: 'tester', ...options.env },
      timeout: 120_000,
    });
  };
  const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;
  const state = () => JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
  const audit = (): Audit[] =>
    readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Audit);
  const served = async () => (await getJson(`${world.publicUrl}/health`)).body['release'];
  const git = (...args: string[]) => execa('git', args, { cwd: world.project });
  // Files on the host are made by the deploy user, as an operator would (the test runs as root).
  const onHost = async (command: string) => {
    const transport = await world.connect();
    try {
      const result = await transport.run({ script: command });
      if (result.code !== 0) throw new Error(`${command}: ${result.stderr}`);
      return result.stdout;
    } finally {
      await transport.close();
    }
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    // The project is a git checkout, as real ones are; the test's own config files never ship.
    writeFileSync(join(world.project, '.gitignore'), '*.mcpdeployrc.json\n');
    await git('init', '-q', '-b', 'main');
    await git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'add', '-A');
    await git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-q', '-m', 'v1');
    writeFileSync(join(world.project, '.env.production'), `API_TOKEN=${canary}\nGREETING=hello from the env file\n`);
    config = writeCliConfig(world, {
      exclude: ['*.mcpdeployrc.json', '.env.production'],
      env: { required: [], file: '.env.production' },
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3', env: { LOG_LEVEL: 'debug' } },
      notify: { webhook: { url: `http://127.0.0.1:9/hook/${canary}-url`, secret: `${canary}-hmac` }, on: ['failure'], timeoutSeconds: 1 },
    });
    const first = await cli(['--yes', '--json', '--skip-validate']);
    expect(first.exitCode, first.stderr).toBe(0);
    v1 = String(json(first.stdout)['release']);
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  describe('config', () => {
    it('prints the resolved config for the target with secrets masked, as key: value lines and as JSON', async () => {
      const plain = await cli(['config']);
      expect(plain.exitCode, plain.stderr).toBe(0);
      expect(plain.stdout).toContain('app: "world"');
      expect(plain.stdout).toContain(`target.path: ${JSON.stringify(world.hostRoot)}`);
      expect(plain.stdout).toContain('target.ports.blue: ');
      expect(plain.stdout).toContain('notify.webhook.secret: "***"');
      expect(plain.stdout).toContain('serverEnv.API_TOKEN: from env.file');
      expect(plain.stdout + plain.stderr).not.toContain(canary);

      const document = await cli(['config', '--json']);
      expect(document.exitCode).toBe(0);
      const parsed = json(document.stdout);
      expect(parsed).toMatchObject({
        app: 'world',
        targets: ['world'],
        target: { name: 'world', supervisor: 'process', nginx: { upstream: world.nginx.upstreamName } },
        notify: { webhook: { url: 'http://127.0.0.1:9/…', secret: '***' } },
        keepReleases: 3,
      });
      expect(parsed['serverEnv']).toContainEqual({ name: 'GREETING', required: false, from: 'env.file' });
      expect(document.stdout).not.toContain(canary);
    });

    it('an unknown target is a usage error, as a JSON document with --json', async () => {
      const plain = await cli(['config', '--target', 'wrold']);
      expect(plain.exitCode).toBe(2);
      expect(plain.stderr).toContain('No target "wrold"');
      expect(plain.stderr).toContain('Targets: world.');
      const document = await cli(['config', '--target', 'wrold', '--json']);
      expect(document.exitCode).toBe(2);
      expect(json(document.stdout)).toMatchObject({ ok: false, exitCode: 2, error: { kind: 'usage' } });
    });
  });

  describe('exec', () => {
    it("runs in the active release's folder with its server's environment, and exits with the command's code", async () => {
      const plain = await cli(['exec', '--', 'echo "$RELEASE_ID $PORT $GREETING $LOG_LEVEL"; pwd; command -v python']);
      expect(plain.exitCode, plain.stderr).toBe(0);
      const [env, cwd, python] = plain.stdout.trim().split('\n');
      // The env file's values are the server's secrets: they arrive, and are masked in what is printed.
      expect(env).toBe(`${v1} ${state().active.port} *** debug`);
      expect(cwd).toBe(join(world.hostRoot, 'releases', v1));
      // The release's venv comes first on PATH.
      expect(python).toMatch(new RegExp(`^${join(world.hostRoot, 'shared', 'venvs')}/[0-9a-f]+/bin/python$`));
      // A secret the server's environment holds is masked in what exec prints.
      const secret = await cli(['exec', '--', 'echo', 'token:', '$API_TOKEN']);
      expect(secret.stdout.trim()).toBe('token: $API_TOKEN');
      const expanded = await cli(['exec', '--', 'echo "token: $API_TOKEN"']);
      expect(expanded.stdout.trim()).toBe('token: ***');

      const failing = await cli(['exec', '--', 'echo to stderr >&2; exit 3']);
      expect(failing.exitCode).toBe(3);
      expect(failing.stderr).toContain('to stderr');
      expect(failing.stderr).toMatch(/exited 3 on .* \(in /);
    });

    it('with --json prints one document with the output and the exit code; each run is in the audit log', async () => {
      const document = await cli(['exec', '--json', '--', 'python', '-c', 'import sys; print(sys.prefix); sys.exit(4)']);
      expect(document.exitCode).toBe(4);
      expect(json(document.stdout)).toMatchObject({
        ok: false,
        release: v1,
        exitCode: 4,
        stdout: expect.stringContaining('/shared/venvs/'),
      });
      const records = audit().filter((record) => record.operation === 'exec');
      expect(records.at(-1)).toMatchObject({ result: 'failed', from: v1, command: expect.stringContaining("python -c 'import sys") });
      expect(JSON.stringify(records)).not.toContain(canary);
    });

    it('refuses a missing command, and a host with nothing deployed, with the way forward', async () => {
      const none = await cli(['exec']);
      expect(none.exitCode).toBe(2);
      const empty = writeCliConfig(world, { exclude: ['*.mcpdeployrc.json'] }, { path: join(world.hostRoot, 'never-deployed') });
      const nothing = await cli(['exec', '--json', '--', 'true'], { config: empty });
      expect(nothing.exitCode).toBe(2);
      expect(json(nothing.stdout)).toMatchObject({ ok: false, error: { message: expect.stringContaining('Nothing is deployed') } });
    });
  });

  describe('restart', () => {
    it('moves the active release to the other colour through the full cutover, with no request failing', async () => {
      const before = state();
      const traffic = startTraffic(world.publicUrl, { clients: 3, maxRequests: 20_000, maxMs: 60_000 });
      const result = await cli(['restart']);
      const report = await traffic.stop();
      expect(result.exitCode, result.stdout).toBe(0);
      expect(result.stdout).toContain(`✔ Switch nginx to ${before.active.colour === 'blue' ? 'green' : 'blue'}`);
      expect(result.stdout).not.toContain('Prune');
      const after = state();
      expect(after.active.release).toBe(v1);
      expect(after.active.colour).not.toBe(before.active.colour);
      // What a rollback would go back to is unchanged: a restart is not a new release.
      expect(after.previous).toBe(before.previous);
      expect(await served()).toBe(v1);
      expect(report.failures).toEqual([]);
      expect(report.sent).toBeGreaterThan(10);

      const again = await cli(['restart', '--json']);
      expect(again.exitCode).toBe(0);
      expect(json(again.stdout)).toMatchObject({ ok: true, operation: 'restart', release: v1, previous: v1, rolledBack: false });
      expect(audit().at(-1)).toMatchObject({ operation: 'restart', result: 'ok', from: v1, to: v1 });
    }, 120_000);

    it('a fresh start that fails leaves the old colour serving, and the release is not marked failed', async () => {
      const before = state();
      // The release on the host breaks (a file edited by hand): the running server is unaffected.
      const serverPy = join(world.hostRoot, 'releases', v1, 'server.py');
      const original = readFileSync(serverPy, 'utf8');
      // A new file, not a write through the old one: release files are hard links shared with other releases.
      await onHost(`mv ${serverPy} ${serverPy}.orig && printf 'raise SystemExit("restart-boom")\\n' > ${serverPy}`);
      try {
        const result = await cli(['restart', '--json']);
        expect(result.exitCode).toBe(1);
        expect(json(result.stdout)).toMatchObject({ ok: false, rolledBack: true, error: { step: 'health' } });
        expect(result.stderr).toContain('restart-boom');
        expect(state()).toEqual(before);
        expect(await served()).toBe(v1);
        expect(existsSync(join(world.hostRoot, 'releases', v1, '.mcp-deploy', 'failed.json'))).toBe(false);
      } finally {
        await onHost(`mv -f ${serverPy}.orig ${serverPy}`);
      }
      expect(readFileSync(serverPy, 'utf8')).toBe(original);
    }, 120_000);
  });

  describe('lock', () => {
    it('a deliberate lock holds off every run, shows its reason everywhere, and is never stale', async () => {
      const acquired = await cli(['lock', 'acquire', '-m', 'migrating the database']);
      expect(acquired.exitCode, acquired.stderr).toBe(0);
      expect(acquired.stdout).toContain('Locked world');

      const status = await cli(['lock', 'status']);
      expect(status.stdout).toContain('on purpose: "migrating the database"');
      const hostStatus = await cli(['status', '--json']);
      expect(json(hostStatus.stdout)['lock']).toMatchObject({
        held: true,
        stale: false,
        info: { operation: 'lock', message: 'migrating the database' },
      });

      const before = readFileSync(join(world.hostRoot, 'state.json'), 'utf8');
      for (const run of [['--yes', '--skip-validate'], ['--yes', '--skip-validate', '--force'], ['restart'], ['rollback'], ['prune']]) {
        const refused = await cli(run);
        expect(refused.exitCode, `${run.join(' ')}: ${refused.stdout}`).toBe(4);
        expect(refused.stdout).toContain('migrating the database');
      }
      const deployJson = await cli(['--yes', '--json', '--skip-validate']);
      expect(json(deployJson.stdout)).toMatchObject({
        ok: false,
        exitCode: 4,
        error: { step: 'connect', hint: expect.stringContaining('lock release') },
      });
      // A second acquire is refused too, naming the first.
      const twice = await cli(['lock', 'acquire', '-m', 'me too', '--json']);
      expect(twice.exitCode).toBe(4);
      expect(json(twice.stdout)).toMatchObject({
        ok: false,
        error: { kind: 'locked', message: expect.stringContaining('migrating the database') },
      });
      expect(readFileSync(join(world.hostRoot, 'state.json'), 'utf8')).toBe(before);

      // Its pid is long gone and lockStaleMinutes is tiny: still not stale.
      const staleConfig = writeCliConfig(world, { exclude: ['*.mcpdeployrc.json'] }, { lockStaleMinutes: 0.0001 });
      const stillHeld = await cli(['lock', 'status', '--json'], { config: staleConfig });
      expect(json(stillHeld.stdout)['lock']).toMatchObject({ held: true, stale: false });

      const released = await cli(['lock', 'release', '--json']);
      expect(released.exitCode).toBe(0);
      expect(json(released.stdout)).toMatchObject({ released: true, lock: { info: { message: 'migrating the database' } } });
      expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
      const again = await cli(['lock', 'release']);
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toContain('nothing to release');
      expect(audit().slice(-2)).toMatchObject([
        { operation: 'lock', message: 'migrating the database' },
        { operation: 'unlock', message: 'migrating the database' },
      ]);
    }, 120_000);

    it("lock release never removes a running deploy's lock; acquire needs a reason", async () => {
      const lockDir = join(world.hostRoot, 'deploy.lock');
      await onHost(
        `mkdir ${lockDir} && printf '%s' '{"operator":"bob","localHost":"ci-7","pid":1,"startedAt":${Math.floor(Date.now() / 1000)},"startedAtIso":"x","release":null,"operation":"deploy","token":"abcdef0123456789"}' > ${lockDir}/info.json`,
      );
      try {
        const refused = await cli(['lock', 'release']);
        expect(refused.exitCode).toBe(4);
        expect(refused.stderr).toContain('bob@ci-7');
        expect(refused.stderr).toContain('not by lock acquire');
        expect(existsSync(join(lockDir, 'info.json'))).toBe(true);
      } finally {
        await onHost(`rm -rf ${lockDir}`);
      }
      const bare = await cli(['lock', 'acquire']);
      expect(bare.exitCode).toBe(2);
      expect(bare.stderr).toMatch(/--message/);
      const blank = await cli(['lock', 'acquire', '-m', '   ', '--json']);
      expect(blank.exitCode).toBe(2);
      expect(json(blank.stdout)).toMatchObject({ ok: false, error: { message: expect.stringContaining('needs a reason') } });
      expect(existsSync(lockDir)).toBe(false);
    });
  });

  describe('logs and audit', () => {
    let failed = '';

    beforeAll(async () => {
      // A release that dies at start: its log is the explanation, kept with it.
      world.editServer((text) =>
        text.replace(
          'def main(argv=None) -> int:\n',
          'def main(argv=None) -> int:\n    log("about to fail: logs-boom")\n    raise SystemExit(2)\n',
        ),
      );
      try {
        const result = await cli(['--yes', '--json', '--skip-validate']);
        expect(result.exitCode).toBe(1);
        failed = String(json(result.stdout)['release']);
      } finally {
        await git('checkout', '--', 'server.py');
      }
    }, 120_000);

    it("logs --release shows a failed release's log; --grep and --since filter on the host; --json is one object per line", async () => {
      const plain = await cli(['logs', '--release', failed]);
      expect(plain.exitCode, plain.stderr).toBe(0);
      expect(plain.stdout).toContain('about to fail: logs-boom');

      // A client's request (Node's fetch: not the probe) beside the deploy's own health checks
      await served();
      const grep = await cli(['logs', '--grep', 'GET /health [0-9]+']);
      expect(grep.exitCode).toBe(0);
      const lines = grep.stdout.trim().split('\n');
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.every((line) => /GET \/health \d+/.test(line))).toBe(true);
      // The example server marks the probe's requests (its User-Agent), and only those: the pane dims them.
      expect(lines.some((line) => line.endsWith('[mcp-deploy-probe]'))).toBe(true);
      expect(lines.at(-1)).not.toContain('mcp-deploy-probe');

      const recent = await cli(['logs', '--since', '1h', '--json']);
      const records = recent.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(records.length).toBeGreaterThan(0);
      expect(records[0]).toMatchObject({ source: 'server', line: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/) });
      const future = await cli(['logs', '--since', '2999-01-01']);
      expect(future.exitCode).toBe(0);
      expect(future.stdout).toBe('');
      const capped = await cli(['logs', '--since', '1d', '--lines', '2']);
      expect(capped.stdout.trim().split('\n')).toHaveLength(2);
    });

    it('refuses an unknown release, an unsafe id, a bad pattern and a bad time, before or without touching the host', async () => {
      const unknown = await cli(['logs', '--release', '20200101T000000Z-deadbee']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr).toContain('There is no release 20200101T000000Z-deadbee');
      const unsafe = await cli(['logs', '--release', '../state.json', '--json']);
      expect(unsafe.exitCode).toBe(2);
      expect(json(unsafe.stdout)).toMatchObject({ ok: false, error: { message: expect.stringContaining('Not a valid release id') } });
      const pattern = await cli(['logs', '--grep', 'a(b']);
      expect(pattern.exitCode).toBe(2);
      expect(pattern.stderr).toContain('cannot read that pattern');
      const time = await cli(['logs', '--since', 'yesterday']);
      expect(time.exitCode).toBe(2);
      expect(time.stderr).toContain('expected a duration');
    });

    it('audit shows what was done to the host, oldest first, in plain text and as JSON, and reports lines it cannot read', async () => {
      appendFileSync(join(world.hostRoot, 'audit.log'), 'not a record\n');
      const plain = await cli(['audit']);
      expect(plain.exitCode, plain.stderr).toBe(0);
      expect(plain.stdout).toMatch(new RegExp(`deploy +ok +tester@\\S+ +${v1}`));
      expect(plain.stdout).toMatch(new RegExp(`deploy +rolled-back .*→ ${failed}`));
      expect(plain.stdout).toContain('locked: "migrating the database"');
      expect(plain.stdout).toMatch(/restart +ok/);
      expect(plain.stdout).toMatch(/audit\.log line \d+ is not a record \(left as it is\): not a record/);

      const document = await cli(['audit', '--json', '--lines', '3']);
      const parsed = json(document.stdout) as { entries: Audit[]; malformed: { line: number; text: string }[] };
      expect(parsed.entries).toHaveLength(2);
      expect(parsed.malformed).toEqual([{ line: expect.any(Number), text: 'not a record' }]);
      const bad = await cli(['audit', '--lines', 'ten', '--json']);
      expect(bad.exitCode).toBe(2);
      expect(json(bad.stdout)).toMatchObject({ ok: false, error: { message: expect.stringContaining('--lines expects a whole number') } });
    });
  });

  describe('dirty trees and --ref', () => {
    it('uncommitted changes make a -dirty release with a warning; --require-clean refuses them; --ref deploys the commit', async () => {
      const head = (await git('rev-parse', '--short=7', 'HEAD')).stdout.trim();
      world.editServer((text) => `${text}\n# uncommitted-marker\n`);
      try {
        const refused = await cli(['--yes', '--skip-validate', '--require-clean']);
        expect(refused.exitCode).toBe(1);
        expect(refused.stdout).toContain('uncommitted changes that would ship (server.py)');
        expect(refused.stdout).toContain('Nothing was changed');

        const dirty = await cli(['--yes', '--json', '--skip-validate']);
        expect(dirty.exitCode, dirty.stderr).toBe(0);
        expect(String(json(dirty.stdout)['release'])).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${head}-dirty$`));
        expect(dirty.stderr).toContain('Uncommitted changes ship with this release (server.py)');
        expect(await served()).toMatch(/-dirty$/);

        // The working tree still has the change; --ref ships the commit as it is.
        const committed = await cli(['--yes', '--json', '--skip-validate', '--ref', 'HEAD']);
        expect(committed.exitCode, committed.stderr).toBe(0);
        const release = String(json(committed.stdout)['release']);
        expect(release).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${head}$`));
        expect(readFileSync(join(world.hostRoot, 'releases', release, 'server.py'), 'utf8')).not.toContain('uncommitted-marker');
        expect(await served()).toBe(release);
      } finally {
        await git('checkout', '--', 'server.py');
      }
      const unknown = await cli(['--yes', '--json', '--skip-validate', '--ref', 'no-such-branch']);
      expect(unknown.exitCode).toBe(2);
      expect(json(unknown.stdout)).toMatchObject({
        ok: false,
        error: { step: 'checkout', message: expect.stringContaining('no such commit') },
      });
    }, 180_000);
  });

  describe('shared dirs and files', () => {
    it('links shared/ into every release; a missing shared file fails before anything starts; data survives deploys', async () => {
      const shared = writeCliConfig(world, {
        exclude: ['*.mcpdeployrc.json', '.env.production'],
        shared: { dirs: ['data'], files: ['settings.json'] },
      });
      // The source ships a data/ folder too: it is not shipped, and the deploy says so.
      mkdirSync(join(world.project, 'data'), { recursive: true });
      writeFileSync(join(world.project, 'data', 'seed.db'), 'from the source');
      const before = await served();

      const missing = await cli(['--yes', '--skip-validate'], { config: shared });
      expect(missing.exitCode).toBe(1);
      expect(missing.stdout).toContain('shared/settings.json is not on');
      expect(missing.stdout).toContain('data is in the source folder too');
      expect(await served()).toBe(before);

      await onHost(`mkdir -p ${world.hostRoot}/shared && echo '{"mode": "host"}' > ${world.hostRoot}/shared/settings.json`);
      const linked = await cli(['--yes', '--json', '--skip-validate'], { config: shared });
      expect(linked.exitCode, linked.stderr).toBe(0);
      const release = String(json(linked.stdout)['release']);
      const releaseDir = join(world.hostRoot, 'releases', release);
      expect(readlinkSync(join(releaseDir, 'data'))).toBe('../../shared/data');
      expect(readlinkSync(join(releaseDir, 'settings.json'))).toBe('../../shared/settings.json');
      expect(existsSync(join(world.hostRoot, 'shared', 'data', 'seed.db'))).toBe(false);

      // The server writes through the link; the next release sees it.
      const write = await cli(['exec', '--', 'echo kept > data/visits && cat settings.json'], { config: shared });
      expect(write.stdout).toContain('"mode": "host"');
      world.editServer((text) => `${text}\n# another release\n`);
      const next = await cli(['--yes', '--json', '--skip-validate'], { config: shared });
      await git('checkout', '--', 'server.py');
      expect(next.exitCode, next.stderr).toBe(0);
      const nextRelease = String(json(next.stdout)['release']);
      expect(readFileSync(join(world.hostRoot, 'releases', nextRelease, 'data', 'visits'), 'utf8')).toBe('kept\n');
      expect(lstatSync(join(world.hostRoot, 'releases', nextRelease, 'data')).isSymbolicLink()).toBe(true);
    }, 180_000);

    it("refuses shared paths that would leave the release or take mcp-deploy's own names", async () => {
      for (const [dirs, message] of [
        [['../x'], 'must not contain "." or ".." segments'],
        [['/srv/data'], 'must be relative'],
        [['venvs'], "is mcp-deploy's own"],
        [['data', 'data/sub'], 'overlaps shared.dirs "data"'],
      ] as const) {
        const bad = writeCliConfig(world, { shared: { dirs } });
        const result = await cli(['config'], { config: bad });
        expect(result.exitCode, dirs.join()).toBe(2);
        expect(result.stderr).toContain(message);
      }
    });
  });

  describe('prune', () => {
    it('removes old releases on its own, under the lock and audited, in plain text and as JSON', async () => {
      const keepOne = writeCliConfig(world, { exclude: ['*.mcpdeployrc.json', '.env.production'], keepReleases: 1 });
      const listing = () => readdirReleases(world.hostRoot);
      const before = listing();
      const plain = await cli(['prune'], { config: keepOne });
      expect(plain.exitCode, plain.stdout).toBe(0);
      expect(plain.stdout).toMatch(/✔ Prune old releases — removed \d+ release/);
      expect(plain.stdout).toMatch(/Removed releases: /);
      const after = listing();
      expect(after.length).toBeLessThan(before.length);
      expect(after).toContain(state().active.release);
      expect(after).toContain(state().previous);

      const again = await cli(['prune', '--json'], { config: keepOne });
      expect(again.exitCode).toBe(0);
      expect(json(again.stdout)).toMatchObject({ ok: true, operation: 'prune', removed: { releases: [] } });
      expect(audit().at(-1)).toMatchObject({ operation: 'prune', result: 'ok' });
      expect(existsSync(join(world.hostRoot, 'deploy.lock'))).toBe(false);
    });
  });

  describe('reboots', () => {
    it('doctor warns that a process-supervised colour does not come back after a reboot', async () => {
      const result = await cli(['doctor', '--json']);
      const checks = (json(result.stdout) as { checks: { check: string; ok: boolean; warning?: boolean; detail: string; fix: string }[] })
        .checks;
      const reboot = checks.find((check) => check.check === 'reboot');
      expect(reboot).toMatchObject({ ok: true, warning: true, detail: expect.stringContaining('after a reboot nothing starts') });
      expect(reboot?.fix).toContain('mcp-deploy restart');
      const plain = await cli(['doctor']);
      expect(plain.stdout).toMatch(/! reboot +this host does not run systemd/);
    });
  });
});

function readdirReleases(root: string): string[] {
  return readdirSync(join(root, 'releases')).filter((name: string) => !name.startsWith('.'));
}
