import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { DeployError } from '../errors.js';
import { renderHttpInclude } from '../engine/nginx-http-include.js';
import { renderLocationInclude } from '../engine/nginx-location-include.js';
import { nginxQuoted } from '../engine/nginx-quote.js';
import { upstreamPort } from '../engine/nginx.js';
import { parseRouting, switchedTo } from '../engine/nginx-routing.js';
import { ProcessSupervisor } from '../engine/supervisor/process-supervisor.js';
import { colours, hostLayout } from '../host/layout.js';
import { LocalTransport } from '../remote/local-transport.js';
import { sandboxNginxConf } from './nginx-conf.js';

/**
 * A deploy target on this machine: a host folder, a private nginx on a free loopback port, and a
 * config that points mcp-deploy at both. What the README's first command deploys to, so a
 * newcomer sees a real cutover through a real nginx without a server of their own.
 */

export type Sandbox = {
  readonly dir: string;
  readonly configFile: string;
  readonly publicUrl: string;
  readonly nginxPrefix: string;
};

type SandboxSettings = { listenPort: number; blue: number; green: number };

const upstream = 'mcp_sandbox';

export function findNginx(): string | null {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/bin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  const which = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return which.status === 0 && which.stdout.trim() !== '' ? which.stdout.trim() : null;
}

/** Nothing is installed behind the operator's back: say exactly what is missing and how to get it. */
export function checkPrerequisites(python: string): void {
  const missing: string[] = [];
  if (findNginx() === null) missing.push('nginx');
  if (spawnSync(python, ['--version']).status !== 0) missing.push('python3');
  if (missing.length > 0) {
    throw new DeployError(
      'usage',
      `The sandbox needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not installed.`,
      {
        hint: `Install with: sudo apt-get install ${missing.map((name) => (name === 'nginx' ? 'nginx-light' : 'python3 python3-venv')).join(' ')}`,
      },
    );
  }
}

export async function sandboxUp(options: { dir: string; source: string }): Promise<Sandbox> {
  const dir = resolve(options.dir);
  checkPrerequisites('python3');
  const nginx = findNginx()!;
  const nginxPrefix = join(dir, 'nginx');
  const host = join(dir, 'host');
  for (const folder of [nginxPrefix, join(nginxPrefix, 'logs'), join(nginxPrefix, 'temp'), host]) mkdirSync(folder, { recursive: true });
  const settingsFile = join(dir, 'sandbox.json');
  const settings: SandboxSettings = existsSync(settingsFile)
    ? (JSON.parse(readFileSync(settingsFile, 'utf8')) as SandboxSettings)
    : { listenPort: await freePort(), blue: await freePort(), green: await freePort() };
  writeFileSync(settingsFile, `${JSON.stringify(settings, null, 2)}\n`);

  const upstreamFile = join(host, 'nginx-upstream.conf');
  const locationFile = join(host, 'nginx-location.conf');
  const sessionLog = join(nginxPrefix, 'logs', 'sessions.log');
  const includeTarget = { name: 'sandbox', ports: { blue: settings.blue, green: settings.green }, nginx: { upstream, sessionLog } };
  // As setup lays out a real host: the includes exist before nginx first reads them; deploys
  // rewrite them. A sandbox from before sessions were pinned gets the maps its location now needs.
  const existing = existsSync(upstreamFile) ? readFileSync(upstreamFile, 'utf8') : null;
  if (parseRouting(existing) === null) {
    const active = upstreamPort(existing, upstream) === settings.green ? 'green' : 'blue';
    writeFileSync(upstreamFile, renderHttpInclude(includeTarget, 'sandbox', switchedTo(null, active)));
  }
  writeFileSync(locationFile, renderLocationInclude(includeTarget, 'sandbox'));
  const confPath = join(nginxPrefix, 'nginx.conf');
  const runAsRoot = process.getuid?.() === 0;
  writeFileSync(
    confPath,
    sandboxNginxConf({
      prefix: nginxPrefix,
      listenPort: settings.listenPort,
      upstreamInclude: nginxQuoted(upstreamFile, 'the sandbox folder'),
      locationInclude: nginxQuoted(locationFile, 'the sandbox folder'),
      runAsRoot,
    }),
  );
  const nginxArgs = ['-p', nginxPrefix, '-c', confPath, '-e', join(nginxPrefix, 'logs', 'error.log')];
  if (!nginxRunning(nginxPrefix)) {
    const started = spawnSync(nginx, nginxArgs, { encoding: 'utf8' });
    if (started.status !== 0) {
      throw new DeployError('deploy', `The sandbox nginx did not start: ${(started.stderr || started.stdout).trim()}`);
    }
  }

  const publicUrl = `http://127.0.0.1:${settings.listenPort}`;
  const configFile = join(dir, 'mcpdeployrc.json');
  const config = {
    app: 'ontology',
    source: resolve(options.source),
    runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt' },
    ontologies: ['ontologies/*.ttl'],
    health: {
      http: [
        { path: '/health', status: 200, json: { status: 'ok' } },
        { path: '/ontology/status', status: 200 },
      ],
      mcp: { path: '/mcp', expectTools: ['list_concepts', 'get_concept', 'search_guidelines'] },
      timeoutSeconds: 30,
    },
    keepReleases: 3,
    drainSeconds: 1,
    // Short, so a second demo deploy does not keep a connected client's session for a minute.
    drain: { sessionIdleSeconds: 10, sessionMaxSeconds: 30 },
    targets: {
      sandbox: {
        transport: 'local',
        default: true,
        path: host,
        ports: { blue: settings.blue, green: settings.green },
        publicUrl,
        nginx: {
          upstreamFile,
          locationFile,
          sessionLog,
          upstream,
          test: [nginx, '-t', '-q', ...nginxArgs],
          reload: [nginx, ...nginxArgs, '-s', 'reload'],
          errorLog: join(nginxPrefix, 'logs', 'error.log'),
          pidFile: join(nginxPrefix, 'nginx.pid'),
        },
        supervisor: 'process',
      },
    },
  };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  return { dir, configFile, publicUrl, nginxPrefix };
}

/**
 * Stops the sandbox's nginx and both colours. The colours go through the process supervisor,
 * which signals a pid file's process only once it is proven to be the server it started: after
 * a reboot, a stale pid file may name any process of the operator's.
 */
export async function sandboxDown(dirOption: string): Promise<string[]> {
  const dir = resolve(dirOption);
  const stopped: string[] = [];
  const nginxPid = join(dir, 'nginx', 'nginx.pid');
  if (existsSync(nginxPid)) {
    const pid = Number.parseInt(readFileSync(nginxPid, 'utf8').trim(), 10);
    try {
      // nginx's master takes its workers along.
      if (Number.isInteger(pid) && pid > 1 && nginxRunning(join(dir, 'nginx'))) {
        process.kill(pid, 'SIGTERM');
        stopped.push(nginxPid);
      }
    } catch {
      // already gone
    }
  }
  const layout = hostLayout(join(dir, 'host'));
  const supervisor = new ProcessSupervisor(new LocalTransport(), layout, null, (message) => process.stderr.write(`! ${message}\n`));
  for (const colour of colours) {
    const result = await supervisor.stop(colour, { graceMs: 5_000 }).catch(() => null);
    if (result?.wasRunning) stopped.push(layout.pidFile(colour));
  }
  return stopped;
}

function nginxRunning(prefix: string): boolean {
  const pidFile = join(prefix, 'nginx.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  if (!Number.isInteger(pid)) return false;
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The sandbox's own nginx names its prefix on its command line (nginx rewrites it into its
    // process title, spaces and all): a reused pid does not.
    return !/\) [ZX] /.test(stat) && `${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')} `.includes(` -p ${prefix} `);
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}
