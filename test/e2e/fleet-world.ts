import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LoginShell, startNginx, startSshd, type NginxHandle, type SshdHandle } from '../harness/index.js';
import { exampleServer } from './world.js';

/**
 * A fleet for end-to-end tests: each host a real sshd with its own deploy root and its own nginx
 * (owned by that host's login, as a real host's would be), and a front nginx balancing across the
 * hosts' nginx, as a load balancer would. Every process is stopped by its PID.
 */
export type FleetHostHandle = {
  readonly name: string;
  readonly sshd: SshdHandle;
  readonly nginx: NginxHandle;
  readonly root: string;
  readonly ports: { readonly blue: number; readonly green: number };
  readonly publicUrl: string;
};

export type FleetWorld = {
  readonly project: string;
  readonly hosts: readonly FleetHostHandle[];
  readonly front: NginxHandle;
  readonly frontUrl: string;
  /** The project's config file for the real binary, with these rollout keys and host changes. */
  writeConfig(options?: {
    rollout?: Record<string, unknown>;
    hosts?: (host: FleetHostHandle, entry: Record<string, unknown>) => Record<string, unknown>;
  }): string;
  editServer(change: (text: string) => string): void;
  /** The release a host's state.json records as active, or null. */
  activeRelease(host: FleetHostHandle): string | null;
  stop(): Promise<void>;
};

export async function createFleetWorld(size: number, logins: readonly LoginShell[] = ['bash', 'sh']): Promise<FleetWorld> {
  const scratch = mkdtempSync(join(tmpdir(), 'mcpd-fleet-'));
  const project = join(scratch, 'project');
  cpSync(exampleServer, project, { recursive: true, filter: (path) => !path.includes('__pycache__') });
  const hosts: FleetHostHandle[] = [];
  let front: NginxHandle | null = null;
  const stopAll = async () => {
    for (const host of hosts) {
      for (const colour of ['blue', 'green']) {
        const pidFile = join(host.root, 'run', `${colour}.pid`);
        if (!existsSync(pidFile)) continue;
        const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
        if (Number.isInteger(pid) && pid > 1) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await host.nginx.stop();
      await host.sshd.stop();
    }
    await front?.stop();
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    for (let index = 0; index < size; index += 1) {
      const sshd = await startSshd({ login: logins[index % logins.length]! });
      const ports = { blue: await freePort(), green: await freePort() };
      const nginx = await startNginx({ upstreamName: 'mcp_fleet', owner: { uid: sshd.uid, gid: sshd.gid }, pinned: ports });
      hosts.push({
        name: `web${index + 1}`,
        sshd,
        nginx,
        root: join(sshd.workDir, 'app'),
        ports,
        publicUrl: `http://127.0.0.1:${nginx.port}`,
      });
    }
    const frontNginx = await startNginx({ upstreamName: 'fleet_front' });
    front = frontNginx;
    // The balancer: every host's nginx, round robin; a host that refuses a connection is skipped.
    // No upstream keepalive: a kept-alive connection to a host's nginx that is reloading can be
    // closed under a POST, which nginx never retries on another host (docs/operations.md#9-fleets).
    const servers = hosts.map((host) => `    server 127.0.0.1:${host.nginx.port} max_fails=0;`).join('\n');
    writeFileSync(frontNginx.upstreamFile, `upstream fleet_front {\n${servers}\n}\n`);
    const { execFileSync } = await import('node:child_process');
    execFileSync(frontNginx.reloadCommand[0]!, frontNginx.reloadCommand.slice(1));
  } catch (error) {
    await stopAll();
    throw error;
  }
  const frontNginx = front!;

  return {
    project,
    hosts,
    front: frontNginx,
    frontUrl: `http://127.0.0.1:${frontNginx.port}`,
    writeConfig: (options = {}) => {
      const entries = hosts.map((host) => {
        const entry: Record<string, unknown> = {
          name: host.name,
          host: host.sshd.host,
          port: host.sshd.port,
          user: host.sshd.user,
          identityFile: host.sshd.identityFile,
          knownHosts: host.sshd.knownHostsFile,
          path: host.root,
          ports: host.ports,
          publicUrl: host.publicUrl,
          nginx: {
            upstreamFile: host.nginx.upstreamFile,
            locationFile: host.nginx.locationFile,
            sessionLog: host.nginx.sessionLog,
            test: [...host.nginx.testCommand],
            reload: [...host.nginx.reloadCommand],
            errorLog: host.nginx.errorLog,
            pidFile: host.nginx.pidFile,
          },
        };
        return options.hosts ? options.hosts(host, entry) : entry;
      });
      const config = {
        app: 'fleet',
        source: project,
        runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3' },
        ontologies: ['ontologies/*.ttl'],
        health: {
          http: [{ path: '/health', status: 200, json: { status: 'ok' } }],
          mcp: { path: '/mcp', expectTools: ['list_concepts'] },
          timeoutSeconds: 15,
        },
        keepReleases: 4,
        drainSeconds: 0.2,
        drain: { sessionIdleSeconds: 1, sessionMaxSeconds: 3 },
        targets: {
          fleet: {
            transport: 'ssh',
            path: '/srv/fleet',
            publicUrl: hosts[0]!.publicUrl,
            nginx: { upstream: 'mcp_fleet' },
            supervisor: 'process',
            hosts: entries,
            ...(options.rollout ? { rollout: options.rollout } : {}),
          },
        },
      };
      const file = join(project, `fleet-${Math.random().toString(36).slice(2)}.mcpdeployrc.json`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      return file;
    },
    editServer: (change) => {
      const file = join(project, 'server.py');
      writeFileSync(file, change(readFileSync(file, 'utf8')));
    },
    activeRelease: (host) => {
      const file = join(host.root, 'state.json');
      if (!existsSync(file)) return null;
      const state = JSON.parse(readFileSync(file, 'utf8')) as { active?: { release?: string } };
      return state.active?.release ?? null;
    },
    stop: stopAll,
  };
}

/** A release that exits at start on a host whose deploy root holds a file named CRASH-HERE (the one host the test marks). */
export function crashWhereMarked(text: string): string {
  return text.replace(
    /\nimport /,
    '\nimport os as _fleet_os, sys as _fleet_sys\nif _fleet_os.path.exists(_fleet_os.path.join(_fleet_os.path.dirname(_fleet_os.path.abspath(__file__)), "..", "..", "CRASH-HERE")):\n    _fleet_sys.exit("this host is marked to crash")\nimport ',
  );
}
