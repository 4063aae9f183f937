import { Chalk } from 'chalk';
import { createOutput } from '../../source/cli/output.js';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { formatDoctor, doctorCommand } from '../../source/cli/commands/doctor-command.js';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { runDoctor, type DoctorCheck } from '../../source/ops/doctor.js';
import { planSetup } from '../../source/ops/setup.js';
import { existsSync } from 'node:fs';
import { connectSsh } from '../../source/remote/connect.js';
import { nodeFixture } from '../e2e/node-project.js';
import { freePort, nginxSkipReason, sshdSkipReason, startNginx, startSshd, type NginxHandle, type SshdHandle } from '../harness/index.js';

/**
 * `mcp-deploy doctor` against a real sshd, logged in as an unprivileged user, with a real nginx
 * that user runs: a host ready for a first deploy passes every check, and each thing that is not
 * ready fails its own check with the line that says what to do.
 */

const sshdSkip = await sshdSkipReason();
const nginxSkip = await nginxSkipReason();
const skip = sshdSkip ?? nginxSkip;
if (skip) console.warn(`SKIPPING doctor tests: ${skip}`);

const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;

describe.skipIf(skip !== undefined)(`mcp-deploy doctor on a real host${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let sshd: SshdHandle;
  let nginx: NginxHandle;
  let scratch: string;
  let ports: { blue: number; green: number };

  beforeAll(async () => {
    sshd = await startSshd();
    ports = { blue: await freePort(), green: await freePort() };
    // The site as setup prints it: its location includes the location include (sessions pinned).
    nginx = await startNginx({ upstreamName: 'mcp_doctor', owner: { uid: sshd.uid, gid: sshd.gid }, pinned: ports });
    scratch = await mkdtemp(join(tmpdir(), 'mcpd-doctor-'));
  });

  afterAll(async () => {
    await nginx?.stop();
    await sshd?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  function rawConfig(targetOverrides: Record<string, unknown> = {}, nginxOverrides: Record<string, unknown> = {}) {
    return {
      app: 'doctor',
      source: exampleServer,
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3' },
      targets: {
        host: {
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHosts: sshd.knownHostsFile,
          path: join(sshd.workDir, 'app'),
          ports,
          publicUrl: `http://127.0.0.1:${nginx.port}`,
          nginx: {
            upstreamFile: nginx.upstreamFile,
            locationFile: nginx.locationFile,
            sessionLog: nginx.sessionLog,
            upstream: nginx.upstreamName,
            test: [...nginx.testCommand],
            reload: [...nginx.reloadCommand],
            errorLog: nginx.errorLog,
            ...nginxOverrides,
          },
          ...targetOverrides,
        },
      },
    };
  }

  async function doctor(
    targetOverrides: Record<string, unknown> = {},
    nginxOverrides: Record<string, unknown> = {},
  ): Promise<DoctorCheck[]> {
    const config = parseConfig(JSON.stringify(rawConfig(targetOverrides, nginxOverrides)), join(scratch, '.mcpdeployrc.json'), {});
    const target = selectTarget(config, undefined);
    const connect = () =>
      connectSsh({
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        knownHostsFile: target.knownHosts!,
        agent: false,
      });
    return runDoctor({ config, target, connect });
  }

  const named = (checks: readonly DoctorCheck[], name: string): DoctorCheck => {
    const found = checks.find((check) => check.check === name);
    if (!found) throw new Error(`no "${name}" check in: ${checks.map((check) => check.check).join(', ')}`);
    return found;
  };

  it('passes every check on a host ready for a first deploy', async () => {
    // Given the harness host: sshd with a known host key, python3 with venv, nginx including the upstream
    const checks = await doctor();

    // Then every check passes, and the ones a first deploy depends on are all there
    const failed = checks.filter((check) => !check.ok);
    expect(failed, formatDoctor('host', checks, new Chalk({ level: 0 }))).toEqual([]);
    expect(checks.map((check) => check.check)).toEqual([
      'ssh',
      'deploy root',
      'disk space',
      'python',
      'python venv',
      'port blue',
      'port green',
      'nginx',
      'nginx.test',
      'nginx.reload',
      'upstream include',
      'nginx includes upstream',
      'sessions pinned',
      'reboot',
      'setsid',
      'mv -T',
      // What faces the world (#19): warnings at most on a test machine (no firewall, no fail2ban).
      'exposure blue',
      'exposure green',
      'firewall',
      'colour ports from outside',
      'fail2ban',
    ]);
    // A pass with a warning: this host has no systemd, so a process group would not come back after a reboot.
    expect(named(checks, 'reboot')).toMatchObject({ ok: true, warning: true, fix: expect.stringContaining('mcp-deploy restart') });
    expect(named(checks, 'ssh').detail).toContain(`${sshd.user}@127.0.0.1:${sshd.port}`);
    expect(named(checks, 'deploy root').detail).toContain('does not exist yet');
    expect(named(checks, 'disk space').detail).toMatch(/free on /);
    expect(named(checks, 'sessions pinned').detail).toContain(`a location includes ${nginx.locationFile}`);
  });

  it('says that sessions are not pinned when the site still proxies to the single upstream, and what to change', async () => {
    // Given a site that proxy_passes to the one upstream, as sites did before sessions were pinned
    const legacy = await startNginx({ upstreamName: 'mcp_doctor', owner: { uid: sshd.uid, gid: sshd.gid } });
    try {
      const checks = await doctor(
        {},
        {
          upstreamFile: legacy.upstreamFile,
          test: [...legacy.testCommand],
          reload: [...legacy.reloadCommand],
        },
      );
      // Then that one check fails, and its fix is the one-time change to the site
      expect(checks.filter((check) => !check.ok).map((check) => check.check)).toEqual(['sessions pinned']);
      const pinning = named(checks, 'sessions pinned');
      expect(pinning.detail).toContain('the site proxies to the single upstream, so MCP sessions are not pinned');
      expect(pinning.fix).toBe(
        `In the site's location, replace "proxy_pass http://mcp_doctor;" with "include ${nginx.locationFile};" (mcp-deploy setup prints the site), then reload nginx`,
      );
    } finally {
      await legacy.stop();
    }
  });

  it('fails the ssh check with the fix when the host key is not known', async () => {
    // Given a known_hosts file without the host's key
    const empty = join(scratch, 'empty_known_hosts');
    await writeFile(empty, '');
    const config = parseConfig(JSON.stringify(rawConfig({ knownHosts: empty })), join(scratch, '.mcpdeployrc.json'), {});
    const target = selectTarget(config, undefined);

    // When doctor runs
    const checks = await runDoctor({
      config,
      target,
      connect: () =>
        connectSsh({
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHostsFile: empty,
          agent: false,
        }),
    });

    // Then only the ssh check is reported, failed, with the host key fingerprint and how to trust it
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ check: 'ssh', ok: false });
    expect(`${checks[0]!.detail} ${checks[0]!.fix}`).toContain(sshd.hostKeyFingerprint);
  });

  it('names a port another process holds, with how to find it', async () => {
    // Given something else listening on the blue port
    const stranger: Server = createServer();
    await new Promise<void>((resolve) => stranger.listen(ports.blue, '127.0.0.1', resolve));
    try {
      // When doctor runs
      const checks = await doctor();

      // Then the blue port check fails with the command that finds its owner; green is fine
      const blue = named(checks, 'port blue');
      expect(blue.ok).toBe(false);
      expect(blue.detail).toContain(`${ports.blue} is taken by another process`);
      expect(blue.fix).toContain(`ss -ltnp 'sport = :${ports.blue}'`);
      expect(blue.fix).toContain('targets.host.ports.blue');
      expect(named(checks, 'port green').ok).toBe(true);
    } finally {
      await new Promise<void>((resolve) => stranger.close(() => resolve()));
    }
  });

  it('says how to give the SSH user the deploy root when it cannot create it', async () => {
    // Given a deploy root below a folder the SSH user may not write to
    const locked = join(scratch, 'locked');
    await mkdir(locked);
    await chmod(scratch, 0o755);
    await chmod(locked, 0o555);

    // When doctor runs
    const checks = await doctor({ path: join(locked, 'app') });

    // Then the deploy root check fails with the mkdir + chown to run as root
    const root = named(checks, 'deploy root');
    expect(root.ok).toBe(false);
    expect(root.detail).toContain(`cannot create it in ${locked}`);
    expect(root.fix).toBe(`On the host: sudo mkdir -p ${join(locked, 'app')} && sudo chown ${sshd.user}: ${join(locked, 'app')}`);
  });

  it('shows nginx -t failing with its own error and the fix', async () => {
    // Given an nginx.test that reads a configuration with an error in it
    const broken = join(nginx.prefix, 'broken.conf');
    await writeFile(broken, (await readFile(nginx.confPath, 'utf8')).replace('events {', 'no_such_directive on;\nevents {'), {
      mode: 0o644,
    });
    const test = [...nginx.testCommand];
    test[test.indexOf(nginx.confPath)] = broken;

    // When doctor runs
    const checks = await doctor({}, { test });

    // Then nginx.test fails with nginx's own message and says to fix the configuration
    const check = named(checks, 'nginx.test');
    expect(check.ok).toBe(false);
    expect(check.detail).toContain('no_such_directive');
    expect(check.fix).toBe('Fix the nginx configuration error shown, then run mcp-deploy doctor again');
  });

  it('reports an upstream include that nginx does not read', async () => {
    // Given an upstream file outside every folder nginx includes
    const elsewhere = join(sshd.workDir, 'elsewhere.conf');

    // When doctor runs
    const checks = await doctor({}, { upstreamFile: elsewhere });

    // Then both upstream checks fail: it is missing, and nginx's configuration does not name it
    expect(named(checks, 'upstream include')).toMatchObject({
      ok: false,
      fix: 'Run `mcp-deploy setup`: it writes the include, pointing at blue',
    });
    const include = named(checks, 'nginx includes upstream');
    expect(include.ok).toBe(false);
    expect(include.fix).toContain(`include ${elsewhere};`);
  });

  it('fails fast with the sudoers line when a sudo command has no rule, and insists on sudo -n', async () => {
    // Given nginx commands through sudo, for a user with no sudoers rule
    const checks = await doctor({}, { reload: ['sudo', '-n', '/usr/sbin/nginx', '-s', 'reload'], test: 'sudo nginx -t' });

    // Then neither waits for a password: one says to add -n, the other gives the exact rule
    expect(named(checks, 'sudo for nginx.test')).toMatchObject({ ok: false, fix: 'Write it as "sudo -n nginx -t"' });
    const reload = named(checks, 'sudo for nginx.reload');
    expect(reload.ok).toBe(false);
    expect(reload.fix).toContain(`${sshd.user} ALL=(root) NOPASSWD: /usr/sbin/nginx -s reload`);
  });

  it('fails a systemctl reload on a host where systemd is not PID 1, naming the nginx signal to use instead', async () => {
    // Given this host, where systemd does not run as PID 1 (the condition the first deploy failed in)
    const booted = (await readFile('/proc/1/comm', 'utf8')).trim();
    expect(booted).not.toBe('systemd');

    // When doctor checks a target that reloads nginx through systemctl
    const checks = await doctor({}, { reload: 'sudo -n systemctl reload nginx' });

    // Then the reload check fails before the first deploy would, with the reload to use
    const reload = named(checks, 'nginx.reload');
    expect(reload.ok).toBe(false);
    expect(reload.detail).toContain('systemd is not running as PID 1');
    expect(reload.fix).toBe(
      'Set targets.host.nginx.reload to "sudo -n nginx -s reload" (nginx\'s own signal; through sudo -n if nginx runs as root)',
    );
  });

  it.skipIf(!existsSync('/usr/bin/sudo'))(
    'passes every sudo check, nginx -T included, once the rule setup prints is installed',
    async () => {
      // Given nginx commands through sudo -n, and the sudoers rule from setup's plan installed as root
      const test = ['sudo', '-n', ...nginx.testCommand];
      const reload = ['sudo', '-n', ...nginx.reloadCommand];
      const config = parseConfig(JSON.stringify(rawConfig({}, { test, reload })), join(scratch, '.mcpdeployrc.json'), {});
      const transport = await connectSsh({
        host: sshd.host,
        port: sshd.port,
        user: sshd.user,
        identityFile: sshd.identityFile,
        knownHostsFile: sshd.knownHostsFile,
        agent: false,
      });
      const rules = join('/etc/sudoers.d', `mcp-deploy-doctor-test-${process.pid}`);
      try {
        const plan = await planSetup(transport, config, selectTarget(config, undefined));
        const sudoers = plan.review.find((item) => item.title.startsWith('sudoers rule'));
        expect(sudoers?.text).toContain(' -T');
        await writeFile(rules, sudoers!.text, { mode: 0o440 });

        // When doctor runs
        const checks = await doctor({}, { test, reload });

        // Then the test, its -T dump and the reload are allowed, and nginx -T (through sudo) finds the include
        for (const name of ['sudo for nginx.test', 'sudo for nginx -T', 'sudo for nginx.reload', 'nginx includes upstream']) {
          expect(named(checks, name), formatDoctor('host', checks, new Chalk({ level: 0 }))).toMatchObject({ ok: true });
        }
      } finally {
        await rm(rules, { force: true });
        await transport.close();
      }
    },
  );

  it('runs as the command: one line per check with the fix under a failure, exit 1', async () => {
    // Given a config file whose blue port is taken
    const file = join(scratch, 'command.mcpdeployrc.json');
    await writeFile(file, JSON.stringify(rawConfig()));
    const stranger: Server = createServer();
    await new Promise<void>((resolve) => stranger.listen(ports.blue, '127.0.0.1', resolve));
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      // When `mcp-deploy doctor` runs
      code = await doctorCommand({ config: file, color: false }, createOutput({ color: false }));
    } finally {
      spy.mockRestore();
      await new Promise<void>((resolve) => stranger.close(() => resolve()));
    }

    // Then it exits 1 and prints the failed check with its fix on the next line
    const output = written.join('');
    expect(code).toBe(1);
    expect(output).toMatch(/✔ ssh\s+/);
    expect(output).toMatch(
      new RegExp(`✖ port blue\\s+${ports.blue} is taken by another process.*\\n\\s+→ Find it on the host with: ss -ltnp`),
    );
    expect(output).toContain('1 check(s) failed');
  });

  it('checks node, engines.node and the lockfile’s package manager for a node server, with the fix when engines.node refuses the host’s node', async () => {
    // Given a node server (the e2e fixture's package.json and lockfile) whose engines.node the host does or does not meet
    const project = join(scratch, 'node-server');
    await mkdir(project, { recursive: true });
    await writeFile(join(project, 'package-lock.json'), await readFile(join(nodeFixture, 'package-lock.json')));
    const pkg = JSON.parse(await readFile(join(nodeFixture, 'package.json'), 'utf8')) as Record<string, unknown>;
    const checksFor = async (engines: string) => {
      await writeFile(join(project, 'package.json'), JSON.stringify({ ...pkg, engines: { node: engines } }));
      const raw = { ...rawConfig(), source: project, runtime: { type: 'node', entry: 'dist/server.js' } };
      const config = parseConfig(JSON.stringify(raw), join(scratch, '.mcpdeployrc.json'), {});
      const target = selectTarget(config, undefined);
      const connect = () =>
        connectSsh({
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHostsFile: target.knownHosts!,
          agent: false,
        });
      return runDoctor({ config, target, connect });
    };

    // When doctor runs, Then node and the install pass where the range allows the host's node
    const good = await checksFor('>=18');
    expect(named(good, 'node')).toMatchObject({ ok: true, detail: expect.stringMatching(/^node \d+\.\d+\.\d+$/) });
    expect(named(good, 'engines.node')).toMatchObject({ ok: true, detail: expect.stringContaining('satisfies ">=18"') });
    expect(named(good, 'install')).toMatchObject({ ok: true, detail: expect.stringContaining('npm ci --omit=dev') });
    expect(good.some((check) => check.check.startsWith('python'))).toBe(false);

    // And engines.node fails with what to do where it does not
    const bad = await checksFor('>=99');
    expect(named(bad, 'engines.node')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('does not satisfy engines.node ">=99"'),
      fix: expect.stringContaining('Install a Node.js the range allows on the host'),
    });
    expect(named(bad, 'install').ok).toBe(true);
  });
});
