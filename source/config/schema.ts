import { z } from 'zod';
import { acme, auth, security } from './edge-schema.js';
import { fleetHost, rollout } from './fleet-schema.js';
import { hostCommand, nonEmpty, port } from './schema-parts.js';

export { describeValue } from './schema-parts.js';

/**
 * The `.mcpdeployrc` schema. Key names are a public contract (other tools write this file):
 * rename nothing. Every object is strict, so a typo is an error with a did-you-mean rather than a
 * silently ignored setting.
 */

const httpCheck = z.strictObject({
  path: nonEmpty.startsWith('/', 'must start with "/"'),
  status: z.number().int().min(100).max(599).default(200),
  /** Top-level fields the JSON body must contain with these values. */
  json: z.record(z.string(), z.unknown()).optional(),
});

const mcpCall = z.strictObject({
  tool: nonEmpty,
  arguments: z.record(z.string(), z.unknown()).default({}),
  /** Text the tool's result must contain. */
  expectText: z.string().optional(),
});

const mcpCheck = z.strictObject({
  path: nonEmpty.startsWith('/', 'must start with "/"').default('/mcp'),
  expectTools: z.array(nonEmpty).default([]),
  calls: z.array(mcpCall).default([]),
});

export const appName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected letters, digits, "-", "_" or "." (it names units and upstreams)');

const target = z
  .strictObject({
    transport: z.enum(['ssh', 'local']).default('ssh'),
    default: z.boolean().default(false),
    host: nonEmpty.optional(),
    port: port.default(22),
    user: nonEmpty.optional(),
    identityFile: nonEmpty.optional(),
    knownHosts: nonEmpty.optional(),
    /**
     * Accept a host that can only sign with ssh-rsa (RSA with SHA-1), which OpenSSH refuses by
     * default since 8.8. Off: such a host is refused with a message that names this key.
     */
    allowSshRsaSha1: z.boolean().default(false),
    /** Deploy root on the host. */
    path: nonEmpty,
    ports: z.strictObject({ blue: port.default(5002), green: port.default(5003) }).default({ blue: 5002, green: 5003 }),
    publicUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
    nginx: z
      .strictObject({
        upstreamFile: nonEmpty.optional(),
        /** The location-level include (session routing); default <path>/nginx-location.conf. */
        locationFile: nonEmpty.optional(),
        /** Where the location include has nginx log each request's session tag; default <path>/shared/logs/nginx-sessions.log. */
        sessionLog: nonEmpty.optional(),
        upstream: z
          .string()
          .regex(/^[A-Za-z0-9_]+$/, 'expected letters, digits and "_" (an nginx upstream name)')
          .optional(),
        test: hostCommand.default('nginx -t'),
        reload: hostCommand.default('nginx -s reload'),
        /** nginx's error log on the host, for `mcp-deploy logs --nginx`. */
        errorLog: nonEmpty.default('/var/log/nginx/error.log'),
        /** nginx's pid file: after a reload, how the host tells when the old workers stopped accepting. */
        pidFile: nonEmpty.default('/run/nginx.pid'),
        /** The longest nginx.test or nginx.reload may take before it counts as failed (and the includes are restored). */
        timeoutSeconds: z.number().positive().max(3600).default(60),
      })
      .default({
        test: 'nginx -t',
        reload: 'nginx -s reload',
        errorLog: '/var/log/nginx/error.log',
        pidFile: '/run/nginx.pid',
        timeoutSeconds: 60,
      }),
    supervisor: z.enum(['systemd', 'process']).default('process'),
    /** With supervisor "systemd": the SSH user's own manager (`systemctl --user`) instead of system units. */
    systemdUser: z.boolean().default(false),
    /** A lock older than this is reported as stale and may be broken with --force. */
    lockStaleMinutes: z.number().positive().default(60),
    /** A fleet: the hosts one deploy rolls the release across (config/fleet-schema.ts); absent: one host. */
    hosts: z.array(fleetHost).min(1, 'needs at least one host (or leave "hosts" out for one host)').optional(),
    rollout: rollout.optional(),
  })
  .superRefine((value, context) => {
    if (value.ports.blue === value.ports.green) {
      context.addIssue({ code: 'custom', path: ['ports', 'green'], message: `must differ from ports.blue (both are ${value.ports.blue})` });
    }
    if (value.transport === 'ssh' && value.host === undefined && value.hosts === undefined) {
      context.addIssue({ code: 'custom', path: ['host'], message: 'is required when transport is "ssh"' });
    }
    if (value.transport === 'ssh' && !value.path.startsWith('/')) {
      context.addIssue({ code: 'custom', path: ['path'], message: `must be an absolute path on the host, got "${value.path}"` });
    }
  });

/** A cached install: a command run in a shared install folder keyed by the hash of some files. */
const cachedInstall = z.strictObject({
  /** Run by `sh` in `shared/deps/<hash>/` on the host, where the `cacheKey` files are copied first. */
  command: nonEmpty,
  /** Files, relative to `source`, whose bytes (with the command) key the install folder. */
  cacheKey: z.array(nonEmpty).min(1, 'needs at least one file'),
  /** What the command produces in the install folder, linked into every release that uses it. */
  cachePaths: z.array(nonEmpty).min(1, 'needs at least one path'),
});

const runtime = z
  .strictObject({
    type: z.enum(['python', 'node', 'command']).default('python'),
    /** For python: the script to run; for node: the file to run with node. Relative to `source`. */
    entry: nonEmpty.optional(),
    /** For python: requirements file (or pyproject.toml) relative to `source`; its hash keys the venv cache. */
    requirements: nonEmpty.optional(),
    /** Start command template; `{port}`, `{release}` and `{host}` are filled in. */
    command: nonEmpty.optional(),
    /** Extra environment for the server; values are templates like the command. */
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name'), z.string()).default({}),
    /** Extra `pip install` arguments, such as `--no-index --find-links /srv/wheels`. */
    pip_args: z.array(z.string()).default([]),
    /** An install run on the host: a command in the release folder, or a cached install. */
    install: z.union([nonEmpty, cachedInstall]).optional(),
    /** The interpreter used to create venvs on the host and to validate locally. */
    python: nonEmpty.default('python3'),
    /** The node binary that runs a node server, on the host and locally. */
    node: nonEmpty.default('node'),
  })
  .superRefine((value, context) => {
    if (value.type === 'python' && value.entry === undefined && value.command === undefined) {
      context.addIssue({ code: 'custom', path: ['entry'], message: 'is required when runtime.type is "python" (or give runtime.command)' });
    }
    if (value.type === 'command' && value.command === undefined) {
      context.addIssue({ code: 'custom', path: ['command'], message: 'is required when runtime.type is "command"' });
    }
    if (value.type === 'python' && typeof value.install === 'object') {
      context.addIssue({
        code: 'custom',
        path: ['install'],
        message: 'runtime.type "python" caches its venv by runtime.requirements; a cached install is for "node" and "command"',
      });
    }
    if (typeof value.install === 'object') {
      for (const [key, paths] of [
        ['cacheKey', value.install.cacheKey],
        ['cachePaths', value.install.cachePaths],
      ] as const) {
        paths.forEach((path, index) => {
          const problem = relativePathProblem(path);
          if (problem !== null) context.addIssue({ code: 'custom', path: ['install', key, index], message: problem });
        });
      }
    }
  });

/** A local build run before validation and hashing; `output` names what ships. */
const build = z.strictObject({
  /** Run by `sh` in the source folder on this machine. */
  command: nonEmpty,
  /** Paths relative to `source` that ship (with the files the runtime installs from); default: the whole source folder. */
  output: z.union([nonEmpty, z.array(nonEmpty).min(1, 'needs at least one path')]).optional(),
  timeoutSeconds: z.number().positive().max(86_400).default(600),
});

/** A hook: a command, or a command with its own time limit. */
const hook = z.union([nonEmpty, z.strictObject({ command: nonEmpty, timeoutSeconds: z.number().positive().max(86_400).default(300) })]);

/** Commands around a deploy or a rollback (the same set for both). */
const hooks = z.strictObject({
  /** On the host, in the new release's folder with its environment, before its colour starts. Failure stops the run. */
  beforeStart: hook.optional(),
  /** On the host, in the new release's folder, once traffic is on it and the old colour has drained. */
  afterSwitch: hook.optional(),
  /** On this machine, in the config file's folder, with MCP_DEPLOY_* variables. */
  local: z.strictObject({ before: hook.optional(), after: hook.optional() }).optional(),
});

/** Why a path from the config cannot name a file inside `source`, or null when it can. */
export function relativePathProblem(path: string): string | null {
  if (path.startsWith('/')) return 'expected a path relative to "source"';
  if (path.split('/').some((segment) => segment === '..')) return 'must stay inside "source" (no "..")';
  return null;
}

const notifyEvent = z.enum(['start', 'success', 'failure', 'rollback']);

/** Where deploy news goes. URLs, tokens and passwords here are secrets: never printed or logged. */
const notify = z.strictObject({
  slack: z.strictObject({ webhookUrl: z.url({ error: 'expected a webhook URL' }) }).optional(),
  discord: z.strictObject({ webhookUrl: z.url({ error: 'expected a webhook URL' }) }).optional(),
  webhook: z
    .strictObject({
      url: z.url({ error: 'expected a URL' }),
      /** When set, the body is signed: `X-MCP-Deploy-Signature: sha256=<hex HMAC>`. */
      secret: z.string().min(1).optional(),
    })
    .optional(),
  email: z
    .strictObject({
      host: nonEmpty,
      port: port.default(587),
      secure: z.boolean().default(false),
      user: z.string().optional(),
      pass: z.string().optional(),
      from: nonEmpty,
      to: z.union([nonEmpty, z.array(nonEmpty).min(1)]),
    })
    .optional(),
  on: z.array(notifyEvent).default(['start', 'success', 'failure', 'rollback']),
  /** A notification never holds a deploy up longer than this. */
  timeoutSeconds: z.number().positive().max(60).default(5),
});

/** The post-cutover watch window: error rate and latency of the new colour, read from nginx's access log. */
const watch = z.strictObject({
  seconds: z.number().min(0).default(0),
  maxErrorRate: z.number().min(0).max(1).default(0.05),
  maxP99Ms: z.number().positive().optional(),
  /**
   * Relative: a latency through nginx more than this much above the old colour's before the switch
   * (0.5 = 50% slower) triggers a switch back: the p99 with 100 answers on both sides, else the p50. Off when absent.
   */
  maxSlowdown: z.number().positive().optional(),
  /** nginx's access log on the host, in a format carrying $status, $upstream_addr and $request_time. */
  accessLog: nonEmpty.optional(),
});

/**
 * Names under `shared/` that mcp-deploy itself uses (venvs, install folders, server logs, the server's env file):
 * a shared path may not start with them.
 */
export const reservedSharedNames = ['venvs', 'deps', 'logs', 'env', '.env', '.mcp-deploy'] as const;

/** What is wrong with a shared.dirs or shared.files entry (already normalised), or null. */
export function sharedPathProblem(path: string): string | null {
  if (path === '' || path === '.') return 'names the release folder itself; name a folder or file inside it';
  if (path.startsWith('/')) return 'must be relative to the release folder (the same path as in "source")';
  if (/[\u0000-\u001f\u007f\\]/.test(path)) return 'must be printable, with "/" between folders';
  const segments = path.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'must not contain "." or ".." segments';
  const first = segments[0] ?? '';
  const reserved = reservedSharedNames.find((name) => first === name || first.startsWith(`${name}.`));
  if (reserved !== undefined)
    return `"${reserved}" is mcp-deploy's own (shared/venvs, shared/deps, shared/logs, shared/env, shared/.env, .mcp-deploy); choose another name`;
  return null;
}

const sharedPath = nonEmpty
  .transform((path) =>
    path
      .replace(/\/{2,}/g, '/')
      .replace(/^(\.\/)+/, '')
      .replace(/\/+$/, ''),
  )
  .superRefine((path, context) => {
    const problem = sharedPathProblem(path);
    if (problem !== null) context.addIssue({ code: 'custom', message: problem });
  });

/** Folders and files that live in `shared/` and are linked into every release (Capistrano's linked_dirs / linked_files). */
const shared = z
  .strictObject({
    dirs: z.array(sharedPath).default([]),
    files: z.array(sharedPath).default([]),
  })
  .superRefine((value, context) => {
    const all = [...value.dirs.map((path) => ({ path, key: 'dirs' })), ...value.files.map((path) => ({ path, key: 'files' }))];
    all.forEach((entry, index) => {
      // Each clash is reported once, at the later of the two entries.
      const clash = all
        .slice(0, index)
        .find((other) => other.path === entry.path || entry.path.startsWith(`${other.path}/`) || other.path.startsWith(`${entry.path}/`));
      if (clash === undefined) return;
      const position = entry.key === 'dirs' ? index : index - value.dirs.length;
      const message =
        clash.path === entry.path ? `is listed twice (also in shared.${clash.key})` : `overlaps shared.${clash.key} "${clash.path}"`;
      context.addIssue({ code: 'custom', path: [entry.key, position], message });
    });
  });

/**
 * `mcp-deploy monitor` (and the dashboard's verdicts): when the serving colour counts as failing
 * between deploys. An alert goes out only when that verdict changes (docs/operations.md#8-monitoring-between-deploys).
 */
const monitor = z.strictObject({
  /** Share of 5xx answers through nginx over the window. */
  maxErrorRate: z.number().min(0).max(1).default(0.05),
  /** p99 of $request_time through nginx over the window, in ms. */
  maxP99Ms: z.number().positive().optional(),
  /** Resident memory of the server's whole process tree, in MB (10^6 bytes). */
  maxMemoryMB: z.number().positive().optional(),
  /** Restarts of the serving process within the window (a new process for the same release). */
  maxRestarts: z.number().int().min(0).default(0),
  /** Relative: p99 since the last deploy more than this much above the release before it (0.5 = 50% slower). */
  maxSlowdown: z.number().positive().default(0.5),
  /** Fewer requests than this in a window judge neither its error rate nor its latency. */
  minRequests: z.number().int().min(1).default(20),
  /** With --for: seconds between samples. */
  intervalSeconds: z.number().min(1).max(3600).default(10),
});

/**
 * The session drain: after a switch the old colour keeps serving the MCP sessions it issued until
 * they go quiet or the bound passes (docs/config.md says why these defaults).
 */
const drain = z.strictObject({
  /** A session with no request for this long is over. */
  sessionIdleSeconds: z.number().min(0).default(30),
  /** The old colour is retired this long after the switch at the latest, whatever its sessions do. */
  sessionMaxSeconds: z.number().min(0).default(60),
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  app: appName,
  source: nonEmpty.default('.'),
  exclude: z.array(z.string()).default([]),
  runtime,
  build: build.optional(),
  hooks: hooks.optional(),
  env: z
    .strictObject({
      required: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')).default([]),
      file: nonEmpty.optional(),
    })
    .default({ required: [] }),
  ontologies: z.array(nonEmpty).default([]),
  health: z
    .strictObject({
      http: z.array(httpCheck).default([]),
      mcp: mcpCheck.optional(),
      timeoutSeconds: z.number().positive().max(3600).default(30),
    })
    .default({ http: [], timeoutSeconds: 30 }),
  notify: notify.optional(),
  watch: watch.optional(),
  monitor: monitor.default({ maxErrorRate: 0.05, maxRestarts: 0, maxSlowdown: 0.5, minRequests: 20, intervalSeconds: 10 }),
  /** The MCP contract gate (docs/contract.md): breaking changes stop a deploy before the switch unless allowed. */
  contract: z.strictObject({ allowBreaking: z.boolean().default(false) }).default({ allowBreaking: false }),
  shared: shared.default({ dirs: [], files: [] }),
  keepReleases: z.number().int().min(1).default(3),
  drainSeconds: z.number().min(0).default(5),
  drain: drain.default({ sessionIdleSeconds: 30, sessionMaxSeconds: 60 }),
  acme: acme.optional(),
  auth: auth.default({ apiKeys: false, openPaths: [] }),
  security: security.default({ loopbackOnly: false }),
  targets: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'target names use letters, digits, "-" and "_"'), target)
    .refine((targets) => Object.keys(targets).length > 0, 'needs at least one target'),
});

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type ParsedTarget = ParsedConfig['targets'][string];
export type HttpCheck = z.output<typeof httpCheck>;
export type McpCheck = z.output<typeof mcpCheck>;
export type HostCommand = z.output<typeof hostCommand>;
export type NotifyConfig = z.output<typeof notify>;
export type NotifyEvent = z.output<typeof notifyEvent>;
export type WatchConfig = z.output<typeof watch>;
export type SharedConfig = z.output<typeof shared>;
export type BuildConfig = z.output<typeof build>;
export type HooksConfig = z.output<typeof hooks>;
export type HookConfig = z.output<typeof hook>;
export type CachedInstallConfig = z.output<typeof cachedInstall>;
export type MonitorConfig = z.output<typeof monitor>;
export type DrainConfig = z.output<typeof drain>;
export type { AcmeConfig, AuthConfig } from './edge-schema.js';
