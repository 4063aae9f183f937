import { createOutput } from '../../source/cli/output.js';
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PassThrough } from 'node:stream';
import { promptConsent, setupCommand } from '../../source/cli/commands/setup-command.js';
import { parseConfig, selectTarget, type Target } from '../../source/config/load.js';
import { upstreamPort } from '../../source/engine/nginx.js';
import { renderHttpInclude } from '../../source/engine/nginx-http-include.js';
import { renderLocationInclude } from '../../source/engine/nginx-location-include.js';
import { parseRouting, switchedTo } from '../../source/engine/nginx-routing.js';
import { DeployError } from '../../source/errors.js';
import { applySetup, planSetup, type Consent } from '../../source/ops/setup.js';
import { renderLogrotate } from '../../source/ops/setup-texts.js';
import { connectSsh } from '../../source/remote/connect.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { appendAudit, readAudit } from '../../source/host/audit.js';
import { hostLayout } from '../../source/host/layout.js';
import type { AuditRecord } from '../../source/run/audit-record.js';
import type { Transport } from '../../source/remote/transport.js';
import { exec, isExecutable } from '../harness/system.js';
import { sshdSkipReason, startSshd, type SshdHandle } from '../harness/index.js';

/**
 * `mcp-deploy setup` against a real sshd, logged in as an unprivileged user: it lays out the
 * deploy root and writes the upstream include only with consent, never replaces a file without
 * asking (and the live upstream include never), and prints what only root may install.
 */

const sshdSkip = await sshdSkipReason();
if (sshdSkip) console.warn(`SKIPPING setup tests: ${sshdSkip}`);

const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;
const yes: Consent = { apply: async () => true, replace: async () => true };

describe.skipIf(sshdSkip !== undefined)(`mcp-deploy setup on a real host${sshdSkip ? ` (skipped: ${sshdSkip})` : ''}`, () => {
  let sshd: SshdHandle;
  let scratch: string;
  let transport: Transport;
  let root: string;
  let count = 0;

  beforeAll(async () => {
    sshd = await startSshd();
    scratch = await mkdtemp(join(tmpdir(), 'mcpd-setup-'));
    transport = await connect();
  });

  afterAll(async () => {
    await transport?.close();
    await sshd?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  beforeEach(() => {
    count += 1;
    root = join(sshd.workDir, `app${count}`);
  });

  function connect(): Promise<Transport> {
    return connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      identityFile: sshd.identityFile,
      knownHostsFile: sshd.knownHostsFile,
      agent: false,
    });
  }

  function rawConfig(app: string, targetOverrides: Record<string, unknown> = {}) {
    return {
      app,
      source: exampleServer,
      runtime: { type: 'python', entry: 'server.py' },
      targets: {
        host: {
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHosts: sshd.knownHostsFile,
          path: root,
          ports: { blue: 6102, green: 6103 },
          publicUrl: 'https://mcp.example.org',
          nginx: { reload: 'sudo -n systemctl reload nginx' },
          ...targetOverrides,
        },
      },
    };
  }

  function load(app = 'setuptest', targetOverrides: Record<string, unknown> = {}) {
    const config = parseConfig(JSON.stringify(rawConfig(app, targetOverrides)), join(scratch, '.mcpdeployrc.json'), {});
    return { config, target: selectTarget(config, undefined) };
  }

  it('lays out the deploy root and writes the upstream include (pointing at blue) once agreed', async () => {
    // Given a host with no deploy root yet
    const { config, target } = load();

    // When setup is planned and agreed to
    const plan = await planSetup(transport, config, target);
    expect(plan.dirs.every((dir) => !dir.exists)).toBe(true);
    const outcomes = await applySetup(transport, plan, yes);

    // Then the layout exists, the include sends traffic to blue, and what only root may write is left to the operator
    for (const dir of ['releases', 'shared/venvs', 'shared/logs', 'run']) expect(existsSync(join(root, dir)), dir).toBe(true);
    const upstream = await readFile(join(root, 'nginx-upstream.conf'), 'utf8');
    expect(upstream).toMatch(/upstream mcp_setuptest \{\s+server 127\.0\.0\.1:6102;/);
    expect(outcomes).toContainEqual({ path: join(root, 'nginx-upstream.conf'), result: 'created' });
    expect(outcomes).toContainEqual(expect.objectContaining({ path: '/etc/logrotate.d/mcp-deploy-setuptest', result: 'by hand' }));
    expect(existsSync('/etc/logrotate.d/mcp-deploy-setuptest')).toBe(false);
  });

  it('--tls with auth.apiKeys: plans the webroot, the TLS include, certbot through sudo -n with its exact sudoers line, and makes the keys file (mode 600) without showing it', async () => {
    // Given a config with an https publicUrl, API keys on and the default certbot (sudo -n certbot)
    const raw = { ...rawConfig('tlstest'), auth: { apiKeys: true }, acme: { email: 'ops@example.org' } };
    const config = parseConfig(JSON.stringify(raw), join(scratch, '.mcpdeployrc.json'), {});
    const target = selectTarget(config, undefined);

    // When setup --tls is planned
    const plan = await planSetup(transport, config, target, { runsSystemd: false }, { tls: true });

    // Then the webroot and the TLS include are in it, certbot is shown whole, and sudoers grants exactly that command line
    expect(plan.dirs.map((dir) => dir.path)).toContain(join(root, 'acme-webroot'));
    const include = plan.files.find((file) => file.path === join(root, 'nginx-tls.conf'));
    expect(include?.content).toContain('ssl_certificate "/etc/letsencrypt/live/tlstest/fullchain.pem";');
    const certbot = plan.review.find((item) => item.title.startsWith('certbot'))?.text ?? '';
    expect(certbot).toMatch(
      /^sudo -n certbot certonly --webroot -w \S+acme-webroot -d mcp\.example\.org --cert-name tlstest --non-interactive --agree-tos --email ops@example\.org --server https:\/\/acme-v02/,
    );
    const sudoers = plan.review.find((item) => item.title.startsWith('sudoers'))?.text ?? '';
    expect(sudoers).toMatch(/NOPASSWD: .*\/certbot certonly --webroot -w \S+acme-webroot -d mcp\.example\.org --cert-name tlstest/);
    expect(plan.review.some((item) => item.title.startsWith('renewal'))).toBe(true);
    expect(plan.keysFile).toMatchObject({ path: join(root, 'nginx-keys.conf'), exists: false });

    // And once applied, the keys file holds mcp-deploy's probe key, mode 600, and the outcome shows none of it
    const outcomes = await applySetup(transport, plan, yes);
    const keysFile = join(root, 'nginx-keys.conf');
    expect((await stat(keysFile)).mode & 0o777).toBe(0o600);
    const secret = /"Bearer (mcpk_[0-9a-f]{32})"/.exec(await readFile(keysFile, 'utf8'))?.[1] ?? '';
    expect(secret).not.toBe('');
    expect(JSON.stringify([plan, outcomes])).not.toContain(secret);
  });

  it('--monitor-timer: writes the host its own monitor config (mode 600) and prints the service and timer only root may install', async () => {
    // Given a target with notifications and thresholds
    const { target } = load('timertest');
    const withMonitor = parseConfig(
      JSON.stringify({
        ...rawConfig('timertest'),
        notify: { webhook: { url: 'http://127.0.0.1:9/hook' } },
        monitor: { maxErrorRate: 0.1 },
      }),
      join(scratch, '.mcpdeployrc.json'),
      {},
    );

    // When setup is planned with a timer every 10 minutes and applied
    const plan = await planSetup(transport, withMonitor, target, { runsSystemd: false }, { monitorTimer: '10min' });
    const byPath = new Map(plan.files.map((file) => [file.path, file]));
    const service = byPath.get('/etc/systemd/system/mcp-deploy-monitor-timertest.service')!;
    const timer = byPath.get('/etc/systemd/system/mcp-deploy-monitor-timertest.timer')!;
    const hostConfig = join(root, 'monitor', 'mcpdeployrc.json');
    const outcomes = await applySetup(transport, plan, yes);

    // Then the units run one check as the SSH user, every 10 minutes, and are left for root to install
    expect(service.content).toContain(`User=${sshd.user}`);
    // mcp-deploy is not installed on this host: the unit finds it on the PATH, and setup says to install it
    expect(service.content).toContain(`ExecStart=/usr/bin/env mcp-deploy monitor --once --config ${hostConfig}\n`);
    expect(plan.review.map((item) => item.title)).toContain('mcp-deploy on the host, for the monitor timer');
    expect(service.content).toContain('Type=oneshot');
    expect(timer.content).toContain('OnUnitActiveSec=10min');
    expect(outcomes).toContainEqual(expect.objectContaining({ path: service.path, result: 'by hand' }));
    expect(outcomes).toContainEqual(expect.objectContaining({ path: timer.path, result: 'by hand' }));
    // And the host's config is this target through the local transport, readable by its owner only
    expect(outcomes).toContainEqual({ path: hostConfig, result: 'created' });
    const mode = (await import('node:fs')).statSync(hostConfig).mode & 0o777;
    expect(mode).toBe(0o600);
    const onHost = parseConfig(await readFile(hostConfig, 'utf8'), hostConfig, {});
    const hostTarget = selectTarget(onHost, undefined);
    expect(hostTarget).toMatchObject({ transport: 'local', path: root, ports: { blue: 6102, green: 6103 } });
    expect(onHost.notify?.webhook?.url).toBe('http://127.0.0.1:9/hook');
    expect(onHost.monitor.maxErrorRate).toBe(0.1);
    // And what the timer runs loads it on the host: nothing is deployed yet, so "down", exit 1 (not a config error, 2)
    const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
    const check = await execa(process.execPath, [bin, 'monitor', '--once', '--config', hostConfig], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(check.exitCode, check.stderr).toBe(1);
    expect(check.stdout).toContain('down: nothing is deployed on host');
  });

  it('shows the fix for a deploy root the SSH user cannot create before asking anything, and writes nothing', async () => {
    // Given a deploy root below a folder the SSH user may not write to
    const locked = join(sshd.workDir, `locked${count}`);
    await mkdir(locked);
    await chmod(locked, 0o555);
    root = join(locked, 'app');
    const { config, target } = load();

    // When setup is planned and applied with a consent that records whether it was asked
    const plan = await planSetup(transport, config, target);
    let asked = false;
    const attempt = applySetup(transport, plan, {
      apply: async () => {
        asked = true;
        return true;
      },
      replace: async () => true,
    });

    // Then it refuses with doctor's own fix, never having asked, and nothing was created
    await expect(attempt).rejects.toMatchObject({
      message: expect.stringContaining('the deploy root cannot be laid out'),
      hint: `On the host: sudo mkdir -p ${root} && sudo chown ${sshd.user}: ${root}, then run mcp-deploy setup again.`,
    });
    expect(asked).toBe(false);
    expect(existsSync(root)).toBe(false);
  });

  it('on a host that runs systemd, plans the move of a process target to systemd, with its unit and sudo rights', async () => {
    // Given a target on the process supervisor
    const { config, target } = load();
    expect(target.supervisor).toBe('process');

    // When setup plans for it on this host (no systemd) and on one that runs systemd
    const here = await planSetup(transport, config, target);
    const systemdHost = await planSetup(transport, config, target, { runsSystemd: true });

    // Then only the systemd host gets the change, and with it the unit and the systemctl sudoers rule
    expect(here.supervisor).toBeNull();
    expect(here.files.some((file) => file.path.endsWith('setuptest@.service'))).toBe(false);
    expect(systemdHost.supervisor).toMatchObject({ from: 'process', to: 'systemd', why: expect.stringContaining('reboot') });
    expect(systemdHost.files.map((file) => file.path)).toContain('/etc/systemd/system/setuptest@.service');
    expect(systemdHost.review.map((item) => item.text).join('\n')).toMatch(/systemctl enable setuptest@6102\.service/);
  });

  it('writes nothing when the operator says no', async () => {
    // Given a plan for a fresh root
    const { config, target } = load();
    const plan = await planSetup(transport, config, target);

    // When the operator declines
    const outcomes = await applySetup(transport, plan, { apply: async () => false, replace: async () => true });

    // Then nothing was written
    expect(outcomes).toBeNull();
    expect(existsSync(root)).toBe(false);
  });

  it('asks y/N on the terminal: anything but yes writes nothing', async () => {
    // Given a plan, and a terminal where the operator answers "no" (or just Enter, or anything else)
    const { config, target } = load();
    const plan = await planSetup(transport, config, target);
    for (const answer of ['n', '', 'maybe']) {
      const terminal = fakeTerminal(answer);

      // When setup asks
      const outcomes = await applySetup(transport, plan, terminal.consent);
      terminal.consent.close?.();

      // Then it asked once, and nothing was written
      expect(terminal.shown()).toBe('Write the folders and files marked + ? [y/N] ');
      expect(outcomes).toBeNull();
      expect(existsSync(root)).toBe(false);
    }

    // When the operator answers yes
    const terminal = fakeTerminal('y');
    const outcomes = await applySetup(transport, plan, terminal.consent);
    terminal.consent.close?.();

    // Then the plan is applied
    expect(outcomes).not.toBeNull();
    expect(existsSync(join(root, 'shared', 'logs'))).toBe(true);
  });

  it('never touches an upstream include that deploys wrote, whatever the answers', async () => {
    // Given a host whose include (with its routing) already sends traffic to green
    await mkdir(root, { recursive: true });
    const { config, target } = load();
    const live = renderHttpInclude(target, config.app, switchedTo(null, 'green'));
    await writeFile(join(root, 'nginx-upstream.conf'), live);
    await chownToUser(root);

    // When setup runs with yes to everything
    const plan = await planSetup(transport, config, target);
    const outcomes = await applySetup(transport, plan, yes);

    // Then the include is exactly as it was
    expect(plan.files.find((file) => file.path.endsWith('nginx-upstream.conf'))?.state).toBe('live');
    expect(await readFile(join(root, 'nginx-upstream.conf'), 'utf8')).toBe(live);
    expect(outcomes).toContainEqual(expect.objectContaining({ path: join(root, 'nginx-upstream.conf'), result: 'kept' }));
  });

  it('brings an include from before sessions were pinned up to date only with a yes, traffic staying where it was', async () => {
    // Given a host whose one-block include sends traffic to green
    await mkdir(root, { recursive: true });
    const old = 'upstream mcp_setuptest {\n    server 127.0.0.1:6103;\n}\n';
    await writeFile(join(root, 'nginx-upstream.conf'), old);
    await chownToUser(root);
    const { config, target } = load();

    // When setup runs and the operator answers no to replacing it, then yes
    const plan = await planSetup(transport, config, target);
    const include = plan.files.find((file) => file.path.endsWith('nginx-upstream.conf'));
    expect(include).toMatchObject({ state: 'differs', title: expect.stringContaining('traffic stays on green (127.0.0.1:6103)') });
    await applySetup(transport, plan, { apply: async () => true, replace: async () => false });
    expect(await readFile(join(root, 'nginx-upstream.conf'), 'utf8')).toBe(old);
    await applySetup(transport, await planSetup(transport, config, target), yes);

    // Then it keeps sending new traffic to green and now has the maps the location include needs
    const upgraded = await readFile(join(root, 'nginx-upstream.conf'), 'utf8');
    expect(upstreamPort(upgraded, 'mcp_setuptest')).toBe(6103);
    expect(parseRouting(upgraded)?.active).toBe('green');
    expect(upgraded).toContain('map $http_mcp_session_id $mcp_setuptest_route');
    // And the location include and the session log are laid out beside it
    expect(await readFile(join(root, 'nginx-location.conf'), 'utf8')).toBe(renderLocationInclude(target, config.app));
    expect(existsSync(join(root, 'shared', 'logs', 'nginx-sessions.log'))).toBe(true);
  });

  it('asks before replacing a unit file that differs, and keeps it on no', async () => {
    // Given a user-systemd target whose unit file the operator has edited
    const app = `setuptest${process.pid}`;
    const loaded = load(app, { supervisor: 'systemd' });
    const target: Target = { ...loaded.target, systemdUser: true } as Target;
    const first = await planSetup(transport, loaded.config, target);
    const unit = first.files.find((file) => file.path.endsWith(`/.config/systemd/user/${app}@.service`));
    expect(unit, first.files.map((file) => file.path).join(', ')).toBeDefined();
    try {
      await applySetup(transport, first, yes);
      const edited = `${await readFile(unit!.path, 'utf8')}# edited by hand\n`;
      await transport.writeFileAtomic(unit!.path, edited);

      // When setup runs again and the operator answers no to replacing it
      const asked: string[] = [];
      const second = await planSetup(transport, loaded.config, target);
      const outcomes = await applySetup(transport, second, {
        apply: async () => true,
        replace: async (path) => {
          asked.push(path);
          return false;
        },
      });

      // Then it was asked about exactly that file, and the file is unchanged
      expect(asked).toEqual([unit!.path]);
      expect(await readFile(unit!.path, 'utf8')).toBe(edited);
      expect(outcomes).toContainEqual(expect.objectContaining({ path: unit!.path, result: 'kept' }));
      expect(second.review.map((item) => item.title)).toContainEqual(expect.stringContaining('lingering'));
    } finally {
      await transport.run(['rm', '-f', unit!.path]);
    }
  });

  it('prints the site snippet, the sudoers rule and the root-only files, and writes nothing without --yes and a terminal', async () => {
    // Given a config file for a system-systemd target and no terminal
    const file = join(scratch, 'setup.mcpdeployrc.json');
    await writeFile(file, JSON.stringify(rawConfig('setuptest', { supervisor: 'systemd' })));
    const { output, result } = await captured(() => setupCommand({ config: file, color: false }, createOutput({ color: false })));

    // Then it refuses to write, with the way forward, after printing the whole plan
    expect(result).toBeInstanceOf(DeployError);
    expect((result as DeployError).hint).toContain('mcp-deploy setup --yes');
    expect(existsSync(root)).toBe(false);
    expect(output).toContain(`include "${join(root, 'nginx-upstream.conf')}";`);
    expect(output).toContain(`include "${join(root, 'nginx-location.conf')}";`);
    expect(output).not.toContain('proxy_pass http://mcp_setuptest;');
    expect(output).toContain('listen 443 ssl;');
    expect(output).toMatch(
      new RegExp(`${sshd.user} ALL=\\(root\\) NOPASSWD: /\\S*systemctl reload nginx, /\\S*systemctl reset-failed setuptest@6102\\.service`),
    );
    expect(output).toContain("sudo tee /etc/systemd/system/setuptest@.service >/dev/null <<'MCP_DEPLOY_EOF'");
    expect(output).toContain(`ExecStart=/bin/sh ${root}/run/%i.sh`);
    expect(output).toContain('copytruncate');

    // When it runs again with --yes
    const second = await captured(() => setupCommand({ config: file, color: false, yes: true }, createOutput({ color: false })));

    // Then the layout is written and the rest is left to root
    expect(second.result).toBe(0);
    expect(existsSync(join(root, 'shared/logs'))).toBe(true);
    expect(second.output).toMatch(/by hand\s+\/etc\/systemd\/system\/setuptest@\.service/);
  });

  it('writes a logrotate rule that logrotate accepts, and that rotates the audit log without losing a line', async (context) => {
    // Skipped only outside CI, which installs logrotate (a missing one there must fail the run).
    if (!process.env['CI'] && !isExecutable('/usr/sbin/logrotate')) context.skip('logrotate is not installed (apt-get install logrotate)');
    // Given the rule for a deploy root with one server log and an audit log
    const layout = hostLayout(join(scratch, 'rotated'));
    await mkdir(layout.logsDir, { recursive: true });
    await writeFile(join(layout.logsDir, '20261124T101500Z.log'), 'hello\n');
    const transport = new LocalTransport();
    await appendAudit(transport, layout, auditRecord('r1'));
    const rule = join(scratch, 'rule.conf');
    const user = (await exec('id', ['-un'])).stdout.trim();
    const group = (await exec('id', ['-gn'])).stdout.trim();
    const sessionLog = join(scratch, 'nginx-sessions.log');
    await writeFile(sessionLog, '');
    await writeFile(rule, renderLogrotate({ ...layout, sessionLog }, { user, group }));
    const state = join(scratch, 'logrotate.state');

    // When logrotate reads it in debug mode (nothing is rotated)
    const result = await exec('/usr/sbin/logrotate', ['-d', '-s', state, rule]);

    // Then it parses and matches both logs
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(join(layout.logsDir, '20261124T101500Z.log'));
    expect(result.stderr).toContain(layout.auditLog);
    expect(result.stderr).toContain(sessionLog);
    expect(result.stderr).not.toMatch(/error/i);

    // When it really rotates (forced), the next append goes to a new audit.log, and the old line is kept
    const forced = await exec('/usr/sbin/logrotate', ['-f', '-s', state, rule]);
    expect(forced.code, forced.stderr).toBe(0);
    await appendAudit(transport, layout, auditRecord('r2'));
    expect((await readAudit(transport, layout)).map((entry) => ('to' in entry ? entry.to : null))).toEqual(['r2']);
    expect(await readFile(`${layout.auditLog}.1`, 'utf8')).toContain('"to":"r1"');
  });

  async function chownToUser(path: string): Promise<void> {
    if (process.getuid?.() === 0) await exec('chown', ['-R', `${sshd.uid}:${sshd.gid}`, path]);
  }
});

function auditRecord(to: string): AuditRecord {
  return {
    at: '2026-11-24T10:16:02Z',
    operator: 'ana',
    localHost: 'laptop',
    target: 't',
    operation: 'deploy',
    from: null,
    to,
    result: 'ok',
    steps: [],
  };
}

/** A terminal whose operator types `answer` once a question is shown. */
function fakeTerminal(answer: string) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk: Buffer) => {
    shown += chunk.toString('utf8');
    if (shown.endsWith('[y/N] ')) input.write(`${answer}\n`);
  });
  return { consent: promptConsent(input, output), shown: () => shown };
}

async function captured(body: () => Promise<number>): Promise<{ output: string; result: number | unknown }> {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    written.push(String(chunk));
    return true;
  });
  try {
    const result = await body();
    return { output: written.join(''), result };
  } catch (error) {
    return { output: written.join(''), result: error };
  } finally {
    spy.mockRestore();
  }
}
