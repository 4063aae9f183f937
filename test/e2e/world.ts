import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, selectTarget, type Config, type Target } from '../../source/config/load.js';
import type { EngineContext } from '../../source/engine/context.js';
import { EventBus, type EngineEvent } from '../../source/run/events.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { connectSsh } from '../../source/remote/connect.js';
import type { Transport } from '../../source/remote/transport.js';
import { freePort, startNginx, startSshd, type NginxHandle, type SshdHandle } from '../harness/index.js';

/**
 * A deploy world for end-to-end tests: a copy of the example server to edit between releases,
 * a deploy root, a real nginx in front, and a transport to the "host" — this machine directly,
 * or a real sshd logging in as an unprivileged user. Everything is torn down by PID.
 */

export const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;

export type World = {
  readonly project: string;
  readonly hostRoot: string;
  readonly nginx: NginxHandle;
  readonly sshd: SshdHandle | null;
  readonly publicUrl: string;
  readonly ports: { blue: number; green: number };
  config(overrides?: Record<string, unknown>, targetOverrides?: Record<string, unknown>): Config;
  /** The same config as plain JSON, for the real binary or for a test to change before parsing. */
  rawConfig(overrides?: Record<string, unknown>, targetOverrides?: Record<string, unknown>): Record<string, unknown>;
  context(options?: { config?: Config; signal?: AbortSignal; checkpoint?: EngineContext['checkpoint'] }): {
    context: EngineContext;
    events: EngineEvent[];
  };
  connect(): Promise<Transport>;
  /** Edits the project's server (server.py unless the world was made with another entry): a new release's change. */
  editServer(change: (text: string) => string): void;
  stop(): Promise<void>;
};

export type WorldOptions = {
  readonly transport: 'local' | 'ssh';
  /**
   * `pinned` (the default): the site includes mcp-deploy's location include, as `setup` prints it;
   * `single-upstream`: it proxy_passes to the one upstream, as sites did before sessions were pinned.
   */
  readonly site?: 'pinned' | 'single-upstream';
  /** The folder copied as the project (default: the example server). */
  readonly source?: string;
  /** The file editServer edits (default server.py). */
  readonly entry?: string;
};

export async function createWorld(options: WorldOptions): Promise<World> {
  const sshd = options.transport === 'ssh' ? await startSshd() : null;
  const owner = sshd ? { uid: sshd.uid, gid: sshd.gid } : undefined;
  const ports = { blue: await freePort(), green: await freePort() };
  const pinned = (options.site ?? 'pinned') === 'pinned';
  const nginx = await startNginx({ upstreamName: 'mcp_world', ...(owner ? { owner } : {}), ...(pinned ? { pinned: ports } : {}) });
  const scratch = mkdtempSync(join(tmpdir(), 'mcpd-world-'));
  const project = join(scratch, 'project');
  cpSync(options.source ?? exampleServer, project, { recursive: true, filter: (path) => !path.includes('__pycache__') });
  const hostRoot = sshd ? join(sshd.workDir, 'app') : join(scratch, 'host');
  const publicUrl = `http://127.0.0.1:${nginx.port}`;

  const rawConfig = (overrides: Record<string, unknown> = {}, targetOverrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    app: 'world',
    source: project,
    runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3' },
    ontologies: ['ontologies/*.ttl'],
    health: {
      http: [{ path: '/health', status: 200, json: { status: 'ok' } }],
      mcp: { path: '/mcp', expectTools: ['list_concepts'] },
      timeoutSeconds: 15,
    },
    keepReleases: 3,
    drainSeconds: 0.5,
    // Short, so a test that holds a session waits seconds, not a minute; the tests that prove the
    // drain set their own.
    drain: { sessionIdleSeconds: 2, sessionMaxSeconds: 6 },
    ...overrides,
    targets: {
      world: {
        transport: options.transport,
        ...(sshd
          ? { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHostsFile }
          : {}),
        path: hostRoot,
        ports,
        publicUrl,
        nginx: {
          upstreamFile: nginx.upstreamFile,
          locationFile: nginx.locationFile,
          sessionLog: nginx.sessionLog,
          upstream: nginx.upstreamName,
          test: [...nginx.testCommand],
          reload: [...nginx.reloadCommand],
          errorLog: nginx.errorLog,
          pidFile: nginx.pidFile,
        },
        supervisor: 'process',
        ...targetOverrides,
      },
    },
  });
  const config = (overrides: Record<string, unknown> = {}, targetOverrides: Record<string, unknown> = {}) =>
    parseConfig(JSON.stringify(rawConfig(overrides, targetOverrides)), join(project, '.mcpdeployrc.json'), {});

  const connect = async (): Promise<Transport> =>
    sshd
      ? connectSsh({
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          identityFile: sshd.identityFile,
          knownHostsFile: sshd.knownHostsFile,
        })
      : new LocalTransport();

  return {
    project,
    hostRoot,
    nginx,
    sshd,
    publicUrl,
    ports,
    config,
    rawConfig,
    connect,
    context: ({ config: chosen, signal, checkpoint } = {}) => {
      const resolved = chosen ?? config();
      const bus = new EventBus();
      const events: EngineEvent[] = [];
      bus.on((event) => events.push(event));
      const target: Target = selectTarget(resolved, undefined);
      return {
        events,
        context: {
          config: resolved,
          target,
          bus,
          operator: 'tester',
          localHost: hostname(),
          connect,
          signal: signal ?? new AbortController().signal,
          ...(checkpoint ? { checkpoint } : {}),
        },
      };
    },
    editServer: (change) => {
      const file = join(project, options.entry ?? 'server.py');
      writeFileSync(file, change(readFileSync(file, 'utf8')));
    },
    stop: async () => {
      // Stop both colours by their pid files (process groups), then nginx and sshd.
      for (const colour of ['blue', 'green']) {
        const pidFile = join(hostRoot, 'run', `${colour}.pid`);
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
      await nginx.stop();
      await sshd?.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Running and not a zombie: orphans on this kind of machine may never be reaped. */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

/** A patch adding one MCP tool to the example server (a v2 that serves different tools). */
export function addTool(name: string) {
  return (text: string) =>
    text.replace(
      'TOOLS_BY_NAME = {',
      `TOOLS.append(Tool(name=${JSON.stringify(name)}, title="Count", description="How many concepts are loaded.", ` +
        `input_schema={"type": "object", "properties": {}, "additionalProperties": False}, ` +
        `handler=lambda onto, args: str(len(onto.concepts()))))\n\nTOOLS_BY_NAME = {`,
    );
}

/** A release whose server refuses any Host but its own loopback address: fine direct, 421 behind nginx. */
export function rejectProxiedHost(text: string): string {
  return text.replace(
    '    def route(self):\n',
    '    def route(self):\n        if not self.headers.get("Host", "").startswith("127.0.0.1"):\n            self.send_json(421, {"error": "misdirected"})\n            return\n',
  );
}

export async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    // An nginx error page instead of the server's JSON: say which, and what the server said.
    throw new Error(
      `GET ${url}: HTTP ${response.status}, not JSON (server: ${response.headers.get('server') ?? '?'}): ${text.slice(0, 200)}`,
    );
  }
}

/** A config file for the real binary that deploys the world's project to its host and nginx. */
export function writeCliConfig(
  world: World,
  overrides: Record<string, unknown> = {},
  targetOverrides: Record<string, unknown> = {},
): string {
  const file = join(world.project, `cli-${Math.random().toString(36).slice(2)}.mcpdeployrc.json`);
  writeFileSync(file, JSON.stringify(world.rawConfig({ drainSeconds: 0.2, ...overrides }, targetOverrides), null, 2));
  return file;
}
