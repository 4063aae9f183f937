import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { childPids } from './processes.js';
import { exec, execChecked, isExecutable, isRoot } from './system.js';
import { renderHttpInclude } from '../../source/engine/nginx-http-include.js';
import { renderLocationInclude } from '../../source/engine/nginx-location-include.js';
import { switchedTo } from '../../source/engine/nginx-routing.js';
import { pidAlive, portAccepts, stopPid, waitFor } from './wait.js';

/**
 * A real nginx private to one test file, laid out like a production reverse proxy for one MCP
 * server: an `upstream` block in its own include file (what a deploy rewrites at cutover) and a
 * server that proxies everything to it. Everything nginx writes lives under its prefix.
 *
 * It runs with `daemon off` as our child, so we always know its PID; `-s reload` still works
 * because the master writes its pid file in that mode too.
 */

export const nginxBinary = '/usr/sbin/nginx';

export type NginxOptions = {
  /** Name of the upstream block; default `mcp_example`. */
  readonly upstreamName?: string;
  /** Port of the first upstream server; default a free port where nothing listens (so 502). */
  readonly upstreamPort?: number;
  /**
   * Run nginx as this account and give it the prefix, so a deploy logged in as that user can
   * rewrite the upstream file and run `testCommand`/`reloadCommand` itself. Only when root.
   */
  readonly owner?: { readonly uid: number; readonly gid: number };
  /**
   * The site as `mcp-deploy setup` prints it: its location includes mcp-deploy's location include
   * (sessions pinned to their colour), with both includes laid out for these colour ports, blue
   * active. Without it the site proxy_passes to the single upstream, as sites did before.
   */
  readonly pinned?: { readonly blue: number; readonly green: number };
};

export type NginxHandle = {
  /** Where nginx listens on 127.0.0.1. */
  readonly port: number;
  readonly prefix: string;
  readonly confPath: string;
  readonly upstreamName: string;
  /** Directory included with `include <dir>/*.conf` inside http{}. */
  readonly upstreamsDir: string;
  /** Another such directory, empty at start: where a test puts a server of its own (the TLS site), then reloads. */
  readonly sitesDir: string;
  /** `<upstreamsDir>/<upstreamName>.conf`, holding the upstream block. */
  readonly upstreamFile: string;
  /** argv of `nginx -t` for this instance. */
  readonly testCommand: readonly string[];
  /** argv of `nginx -s reload` for this instance. */
  readonly reloadCommand: readonly string[];
  /** The location include a pinned site reads (a single-upstream site never reads it). */
  readonly locationFile: string;
  /** The session log the location include names. */
  readonly sessionLog: string;
  readonly pinned: boolean;
  /** One line per request: `$status $upstream_addr "$request"` and more, see logFormat. */
  readonly accessLog: string;
  readonly errorLog: string;
  /** The master's pid file (the target's nginx.pidFile). */
  readonly pidFile: string;
  /** The master's PID from its pid file, or undefined when nginx is not running. */
  pid(): number | undefined;
  /** Stops master and workers (SIGTERM, then SIGKILL, bounded), then removes the prefix. Idempotent. */
  stop(): Promise<void>;
};

/** The upstream include for one backend port, as the harness writes it initially. */
export function upstreamConf(name: string, port: number): string {
  return `upstream ${name} {\n    server 127.0.0.1:${port};\n    keepalive 16;\n}\n`;
}

export async function nginxSkipReason(): Promise<string | undefined> {
  if (process.env.CI) return undefined;
  if (!isExecutable(nginxBinary)) return `${nginxBinary} is not installed (apt-get install nginx-light)`;
  return undefined;
}

export async function startNginx(options: NginxOptions = {}): Promise<NginxHandle> {
  const upstreamName = options.upstreamName ?? 'mcp_example';
  if (!/^[A-Za-z0-9_]+$/.test(upstreamName)) throw new Error(`not a usable upstream name: ${upstreamName}`);
  const owner = options.owner !== undefined && isRoot() ? options.owner : undefined;

  const prefix = await mkdtemp(join(tmpdir(), 'mcpd-nginx-'));
  const logs = join(prefix, 'logs');
  const temp = join(prefix, 'temp');
  const upstreamsDir = join(prefix, 'upstreams');
  const sitesDir = join(prefix, 'sites');
  const confPath = join(prefix, 'nginx.conf');
  const upstreamFile = join(upstreamsDir, `${upstreamName}.conf`);
  const accessLog = join(logs, 'access.log');
  const errorLog = join(logs, 'error.log');
  const pidFile = join(prefix, 'nginx.pid');
  const stderrLog = join(logs, 'stderr.log');
  // Outside upstreamsDir: everything in there is included at the http level.
  const locationFile = join(prefix, 'mcp-location.conf');
  const sessionLog = join(logs, 'sessions.log');

  try {
    await chmod(prefix, 0o755);
    for (const dir of [logs, temp, upstreamsDir, sitesDir]) await mkdir(dir, { recursive: true });
    const port = await freePort();
    const upstreamPort = options.upstreamPort ?? (await freePort());
    if (options.pinned) {
      const target = { name: 'harness', ports: options.pinned, nginx: { upstream: upstreamName, sessionLog } };
      await writeFile(upstreamFile, renderHttpInclude(target, 'harness', switchedTo(null, 'blue')));
      await writeFile(locationFile, renderLocationInclude(target, 'harness'));
    } else await writeFile(upstreamFile, upstreamConf(upstreamName, upstreamPort));
    await writeFile(
      confPath,
      nginxConf({
        prefix,
        port,
        upstreamName,
        upstreamsDir,
        accessLog,
        errorLog,
        pidFile,
        asRoot: isRoot() && owner === undefined,
        locationFile: options.pinned ? locationFile : null,
      }),
    );

    // -e: the compiled-in error log (/var/log/nginx) may not be writable; start with ours.
    const base = ['-p', prefix, '-c', confPath, '-e', errorLog];
    const testCommand = [nginxBinary, '-t', ...base];
    const reloadCommand = [nginxBinary, '-s', 'reload', ...base];

    const test = await exec(nginxBinary, testCommand.slice(1));
    if (test.code !== 0) throw new Error(`nginx -t failed for the harness config: ${test.stderr.trim()}`);
    // After the test: it creates the log and temp files, which the owner must be able to open.
    if (owner !== undefined) await execChecked('chown', ['-R', `${owner.uid}:${owner.gid}`, prefix]);

    const out = openSync(stderrLog, 'a');
    const child = spawn(nginxBinary, base, {
      stdio: ['ignore', out, out],
      ...(owner === undefined ? {} : { uid: owner.uid, gid: owner.gid }),
    });
    closeSync(out);
    const childPid = child.pid;
    if (childPid === undefined) throw new Error(`could not start ${nginxBinary}`);
    child.on('error', () => {
      // reported by the exit check below
    });
    const killOnExit = () => {
      for (const pid of [...childPids(childPid), childPid]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    process.once('exit', killOnExit);

    const readPid = (): number | undefined => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
      } catch {
        return undefined;
      }
    };

    const state = await waitFor(
      `nginx to listen on 127.0.0.1:${port}`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited' as const;
        // The master listens and writes its pid file before it forks the workers that serve.
        const master = readPid();
        return master !== undefined && childPids(master).length > 0 && (await portAccepts(port)) && ('listening' as const);
      },
      { timeoutMs: 15_000 },
    ).catch(() => 'timeout' as const);
    if (state !== 'listening') {
      killOnExit();
      process.removeListener('exit', killOnExit);
      const detail = [await readFile(stderrLog, 'utf8').catch(() => ''), await readFile(errorLog, 'utf8').catch(() => '')].join('\n');
      throw new Error(`nginx did not start (${state}):\n${detail.trim()}`);
    }

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        const master = readPid() ?? childPid;
        const workers = childPids(master);
        // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for keepalive clients.
        await stopPid(master, 'SIGTERM');
        for (const worker of workers) await stopPid(worker, 'SIGKILL');
        if (master !== childPid) await stopPid(childPid, 'SIGKILL');
        process.removeListener('exit', killOnExit);
        await rm(prefix, { recursive: true, force: true });
      })();
      return stopped;
    };

    return {
      port,
      prefix,
      confPath,
      upstreamName,
      upstreamsDir,
      sitesDir,
      upstreamFile,
      locationFile,
      sessionLog,
      pinned: options.pinned !== undefined,
      testCommand,
      reloadCommand,
      accessLog,
      errorLog,
      pidFile,
      pid: readPid,
      stop,
    };
  } catch (error) {
    await rm(prefix, { recursive: true, force: true });
    throw error;
  }
}

/** `$upstream_addr` tells a test which colour served a request. */
export const logFormat = '$status $upstream_addr $request_time "$request"';

function nginxConf(parts: {
  prefix: string;
  port: number;
  upstreamName: string;
  upstreamsDir: string;
  accessLog: string;
  errorLog: string;
  pidFile: string;
  asRoot: boolean;
  locationFile: string | null;
}): string {
  const temp = (name: string) => join(parts.prefix, 'temp', name);
  return [
    '# Written by the mcp-deploy test harness.',
    // Workers as root can read the root-owned temp prefix; as any other user nginx runs as itself.
    ...(parts.asRoot ? ['user root;'] : []),
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${parts.pidFile};`,
    `error_log ${parts.errorLog} info;`,
    'events {',
    '    worker_connections 256;',
    '}',
    'http {',
    `    log_format mcp '${logFormat}';`,
    `    access_log ${parts.accessLog} mcp;`,
    `    client_body_temp_path ${temp('client_body')};`,
    `    proxy_temp_path ${temp('proxy')};`,
    `    fastcgi_temp_path ${temp('fastcgi')};`,
    `    uwsgi_temp_path ${temp('uwsgi')};`,
    `    scgi_temp_path ${temp('scgi')};`,
    `    include ${parts.upstreamsDir}/*.conf;`,
    `    include ${join(parts.prefix, 'sites')}/*.conf;`,
    '    server {',
    `        listen 127.0.0.1:${parts.port};`,
    '        server_name localhost;',
    '        location / {',
    parts.locationFile === null ? `            proxy_pass http://${parts.upstreamName};` : `            include ${parts.locationFile};`,
    '            proxy_http_version 1.1;',
    '            proxy_set_header Connection "";',
    '            proxy_buffering off;',
    '            proxy_read_timeout 300s;',
    '        }',
    '    }',
    '}',
    '',
  ].join('\n');
}
