import { posix } from 'node:path';
import type { Config, Target } from '../config/load.js';
import { DeployError, describeError } from '../errors.js';
import { colourOfPort } from '../engine/colours.js';
import { readUpstream } from '../engine/nginx.js';
import { renderHttpInclude } from '../engine/nginx-http-include.js';
import { renderLocationInclude } from '../engine/nginx-location-include.js';
import { parseRouting, switchedTo } from '../engine/nginx-routing.js';
import { systemdMode } from '../engine/supervisor/create-supervisor.js';
import { systemctlFunctions } from '../engine/supervisor/systemd-supervisor.js';
import { privilegedSystemctlCommands, renderUnit, unitFilePath } from '../engine/supervisor/systemd-unit.js';
import { hostLayout } from '../host/layout.js';
import type { KeysTarget } from '../engine/keys-host.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { type DeployRootState, inspectDeployRoot } from './deploy-root.js';
import { monitorTimerFiles } from './monitor-timer.js';
import { makeKeysFile, tlsReview } from './setup-edge.js';
import { renderLogrotate, renderSiteSnippet } from './setup-texts.js';
import { certbotSudo, renderTlsInclude, tlsPaths } from './tls.js';
import { nginxSudoCommands, resolvePrograms, sudoersLine } from './sudo-rules.js';
import { hostRunsSystemd, type SupervisorChange, supervisorChange } from './supervisor-choice.js';

/**
 * `mcp-deploy setup`: prepares a host for its first deploy. Everything it would do is planned
 * first and shown; nothing is written without consent, an existing file is never replaced
 * without its own yes, and the nginx upstream include, once it exists, is never touched (it says
 * where live traffic goes). Files only root may write are printed for the operator to install.
 */

export type SetupFile = {
  readonly title: string;
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  /** absent: would be created; same: already as we would write it; differs: replaced only with a yes; live: never replaced. */
  readonly state: 'absent' | 'same' | 'differs' | 'live';
  /** Whether the SSH user may write it; if not, it is printed for the operator to install as root. */
  readonly writable: boolean;
  /** Run after the file was written (systemd's daemon-reload). */
  readonly after?: { readonly what: string; readonly script: string };
};

export type SetupPlan = {
  readonly user: string;
  /** Whether the SSH user can lay out the deploy root; when not, the fix to run first (nothing is asked). */
  readonly root: DeployRootState;
  readonly dirs: readonly { readonly path: string; readonly exists: boolean }[];
  readonly files: readonly SetupFile[];
  /** Text for the operator to read and apply by hand: the nginx site, sudoers, linger. */
  readonly review: readonly { readonly title: string; readonly text: string }[];
  /** The supervisor the host calls for, when the config names the other one: set in the config file on apply. */
  readonly supervisor: SupervisorChange | null;
  /** With auth.apiKeys: the keys file the http include reads (made with mcp-deploy's probe key; its content is never shown). */
  readonly keysFile: { readonly path: string; readonly exists: boolean; readonly app: string; readonly target: KeysTarget } | null;
};

export type Consent = {
  /** Apply the plan at all? */
  apply(): Promise<boolean>;
  /** Replace this existing file, whose content differs? */
  replace(path: string): Promise<boolean>;
};

export type SetupOutcome = {
  readonly path: string;
  readonly result: 'created' | 'replaced' | 'kept' | 'unchanged' | 'by hand';
  readonly note?: string;
};

type Account = { readonly user: string; readonly group: string; readonly uid: string; readonly home: string };

export type SetupOptions = {
  /** `--monitor-timer [EVERY]`: also a systemd timer on the host that runs `mcp-deploy monitor --once` this often. */
  readonly monitorTimer?: string;
  /** `--tls`: a certificate from acme.server with certbot, the webroot it answers the challenge from, and the TLS include. */
  readonly tls?: boolean;
};

export async function planSetup(
  transport: Transport,
  config: Config,
  configured: Target,
  host: { readonly runsSystemd?: boolean } = {},
  options: SetupOptions = {},
): Promise<SetupPlan> {
  const account = await whoAmI(transport);
  // Plan for the supervisor the host calls for: the unit and its sudo rights come with systemd.
  const supervisor = supervisorChange(configured, host.runsSystemd ?? (await hostRunsSystemd(transport)));
  const target: Target = supervisor === null ? configured : { ...configured, supervisor: supervisor.to };
  const layout = hostLayout(target.path);
  const tls = options.tls ? tlsPaths(config, target) : null;
  const dirPaths = [layout.root, layout.releasesDir, layout.sharedDir, layout.venvsDir, layout.logsDir, layout.runDir];
  if (tls !== null) dirPaths.push(tls.webroot);
  const [existing, root] = await Promise.all([existingPaths(transport, dirPaths), inspectDeployRoot(transport, layout.root, account.user)]);
  const dirs = dirPaths.map((path) => ({ path, exists: existing.has(path) }));

  const wanted: Omit<SetupFile, 'state' | 'writable'>[] = [
    await upstreamInclude(transport, config, target),
    {
      title: 'nginx location include: routes each MCP session to the colour that issued it (deploys keep it current)',
      path: target.nginx.locationFile,
      content: renderLocationInclude(target, config.app),
      mode: 0o644,
    },
    {
      // Made here, by the deploy user, so that it (and logrotate's rule, as that user) can read and
      // truncate it; nginx only appends to a log that exists.
      title: "nginx's session log (empty; nginx appends to it)",
      path: target.nginx.sessionLog,
      content: '',
      mode: 0o644,
    },
  ];
  if (tls !== null) {
    wanted.push({
      title: 'nginx TLS include: the certificate and key the HTTPS server block reads',
      path: tls.includeFile,
      content: renderTlsInclude(config.app, tls),
      mode: 0o644,
    });
  }
  if (target.supervisor === 'systemd') {
    const mode = systemdMode(target);
    wanted.push({
      title: `systemd ${mode === 'user' ? 'user ' : ''}unit: one instance per colour`,
      path: unitFilePath(mode, config.app, account.home),
      content: renderUnit({ app: config.app, root: layout.root, mode, user: account.user }),
      mode: 0o644,
      after: { what: 'systemctl daemon-reload', script: `${systemctlFunctions(mode)}\nsc daemon-reload` },
    });
  }
  wanted.push({
    title: "logrotate rule for the server logs, nginx's session log and the audit log",
    path: `/etc/logrotate.d/mcp-deploy-${config.app}`,
    content: renderLogrotate(
      {
        logsDir: layout.logsDir,
        auditLog: layout.auditLog,
        // The session log is rotated with the server logs unless it already lies among them.
        sessionLog: posix.dirname(target.nginx.sessionLog) === layout.logsDir ? null : target.nginx.sessionLog,
      },
      account,
    ),
    mode: 0o644,
  });

  let monitorProgram: string | null = null;
  if (options.monitorTimer !== undefined) {
    monitorProgram = await programPath(transport, 'mcp-deploy');
    wanted.push(
      ...monitorTimerFiles({
        config,
        target,
        every: options.monitorTimer,
        user: account.user,
        home: account.home,
        program: monitorProgram,
      }),
    );
  }

  const files: SetupFile[] = [];
  for (const file of wanted as (Omit<SetupFile, 'state' | 'writable'> & { state?: 'live' })[]) {
    const current = await transport.readFile(file.path).catch(() => null);
    const state =
      current === null
        ? 'absent'
        : file.path === target.nginx.upstreamFile && file.state === 'live'
          ? 'live'
          : file.path === target.nginx.sessionLog
            ? 'same'
            : current.toString('utf8') === file.content
              ? 'same'
              : 'differs';
    const { state: _hint, ...rest } = file;
    files.push({ ...rest, state, writable: await canWrite(transport, file.path) });
  }
  const review = await reviewTexts(transport, config, target, account, options);
  if (tls !== null) review.push(...(await tlsReview(transport, config, target)));
  if (options.monitorTimer !== undefined && monitorProgram === null) {
    review.push({
      title: 'mcp-deploy on the host, for the monitor timer',
      text: `mcp-deploy is not on the PATH of ${account.user} on this host, so the service runs "/usr/bin/env mcp-deploy".\nInstall it there (npm install -g ./mcp-deploy-<version>.tgz, the tarball you pin) or change ExecStart.\n`,
    });
  }
  const keysPath = target.nginx.auth?.keysFile ?? null;
  const keysFile =
    keysPath === null
      ? null
      : { path: keysPath, exists: (await transport.readFile(keysPath).catch(() => null)) !== null, app: config.app, target };
  return { user: account.user, root, dirs, files, review, supervisor, keysFile };
}

/** Carries out a plan the operator agreed to; returns what happened to each file and folder. */
export async function applySetup(transport: Transport, plan: SetupPlan, consent: Consent): Promise<SetupOutcome[] | null> {
  assertRootWritable(plan);
  if (!(await consent.apply())) return null;
  const outcomes: SetupOutcome[] = [];
  const missing = plan.dirs.filter((dir) => !dir.exists).map((dir) => dir.path);
  if (missing.length > 0) {
    const result = await transport.run(['mkdir', '-p', ...missing], { timeoutMs: 30_000 });
    if (result.code !== 0) throw cannot(`create ${missing.join(', ')}`, result.stderr);
  }
  for (const dir of plan.dirs) outcomes.push({ path: dir.path, result: dir.exists ? 'unchanged' : 'created' });
  for (const file of plan.files) {
    if (file.state === 'same') {
      outcomes.push({ path: file.path, result: 'unchanged' });
      continue;
    }
    if (file.state === 'live') {
      outcomes.push({ path: file.path, result: 'kept', note: 'it exists and says where traffic goes; deploys rewrite it' });
      continue;
    }
    if (!file.writable) {
      outcomes.push({ path: file.path, result: 'by hand', note: `${plan.user} may not write it: install it as root (printed above)` });
      continue;
    }
    if (file.state === 'differs' && !(await consent.replace(file.path))) {
      outcomes.push({ path: file.path, result: 'kept', note: 'it differs from what setup would write; left as it is' });
      continue;
    }
    await transport.run(['mkdir', '-p', posix.dirname(file.path)], { timeoutMs: 30_000 });
    await transport.writeFileAtomic(file.path, file.content, file.mode).catch((error: unknown) => {
      throw cannot(`write ${file.path}`, describeError(error));
    });
    let note: string | undefined;
    if (file.after) {
      const result = await transport.run({ script: file.after.script }, { timeoutMs: 60_000 });
      note =
        result.code === 0
          ? `${file.after.what} done`
          : `${file.after.what} failed: ${(result.stderr || result.stdout).trim().split('\n').pop() ?? ''}`;
    }
    outcomes.push({ path: file.path, result: file.state === 'absent' ? 'created' : 'replaced', ...(note ? { note } : {}) });
  }
  if (plan.keysFile !== null && !plan.keysFile.exists) {
    outcomes.push({ path: plan.keysFile.path, result: 'created', note: await makeKeysFile(transport, plan.keysFile) });
  }
  return outcomes;
}

/** Refuses a plan whose deploy root the SSH user cannot lay out, with the one command that fixes it. */
export function assertRootWritable(plan: SetupPlan): void {
  const { root } = plan;
  if (root.kind !== 'not-writable' && root.kind !== 'parent-not-writable') return;
  const why =
    root.kind === 'not-writable' ? `${root.path} is not writable by ${plan.user}` : `${plan.user} cannot create it in ${root.under}`;
  throw new DeployError('host-state', `Nothing was written: the deploy root cannot be laid out (${why}).`, {
    hint: `${root.fix}, then run mcp-deploy setup again.`,
  });
}

/** How a file only root may write gets installed: one copy-paste block for the operator. */
export function installByHand(file: SetupFile): string {
  const delimiter = 'MCP_DEPLOY_EOF';
  const lines = [`sudo tee ${file.path} >/dev/null <<'${delimiter}'`, file.content.replace(/\n$/, ''), delimiter];
  if (file.after) lines.push(`sudo ${file.after.what}`);
  return lines.join('\n');
}

/**
 * The http-level include. Once it exists it says where live traffic goes and is kept; one
 * written before sessions were pinned (a single upstream block) is brought up to date with the
 * per-colour upstreams and maps the location include needs, traffic staying where it is.
 */
async function upstreamInclude(
  transport: Transport,
  config: Config,
  target: Target,
): Promise<Omit<SetupFile, 'state' | 'writable'> & { state?: 'live' }> {
  const path = target.nginx.upstreamFile;
  const { text, port } = await readUpstream(transport, target).catch(() => ({ text: null, port: null }));
  if (text === null) {
    return {
      title: `nginx upstream include, pointing at blue (127.0.0.1:${target.ports.blue})`,
      path,
      content: renderHttpInclude(target, config.app, switchedTo(null, 'blue')),
      mode: 0o644,
    };
  }
  const colour = colourOfPort(target, port);
  if (parseRouting(text) !== null || colour === null)
    return { title: 'nginx upstream include', path, content: text, mode: 0o644, state: 'live' };
  return {
    title: `nginx upstream include: adds the per-colour upstreams and session maps; traffic stays on ${colour} (127.0.0.1:${port})`,
    path,
    content: renderHttpInclude(target, config.app, switchedTo(null, colour)),
    mode: 0o644,
  };
}

async function reviewTexts(
  transport: Transport,
  config: Config,
  target: Target,
  account: Account,
  options: SetupOptions,
): Promise<{ title: string; text: string }[]> {
  const review = [{ title: 'nginx site (not written: your nginx configuration is yours)', text: renderSiteSnippet(config, target) }];
  // Doctor's `nginx -T` (the test with -T) runs through sudo too when the test does: the rule lists it.
  const commands: (readonly string[])[] = nginxSudoCommands(target.nginx).map((sudo) => sudo.argv);
  const mode = target.supervisor === 'systemd' ? systemdMode(target) : null;
  if (mode === 'system' && account.uid !== '0') commands.push(...privilegedSystemctlCommands(config.app, target.ports));
  const certbot = options.tls ? certbotSudo(config, target) : null;
  if (certbot !== null && account.uid !== '0') commands.push(certbot);
  if (commands.length > 0) {
    const paths = await resolvePrograms(
      transport,
      commands.map((argv) => argv[0]!),
    );
    review.push({
      title: 'sudoers rule (save as root with: visudo -f /etc/sudoers.d/mcp-deploy)',
      text: `# What mcp-deploy runs through sudo -n on this host, and nothing more.\n${sudoersLine(account.user, commands, paths)}\n`,
    });
  }
  if (mode === 'user') {
    review.push({
      title: 'lingering, so user units outlive the SSH session (as root)',
      text: `sudo loginctl enable-linger ${account.user}\n`,
    });
  }
  return review;
}

/** Where `name` is on the host's PATH, or null. */
async function programPath(transport: Transport, name: string): Promise<string | null> {
  const result = await transport.run({ script: 'command -v "$p"' }, { env: { p: name }, timeoutMs: 15_000 });
  const path = result.stdout.trim();
  return result.code === 0 && path.startsWith('/') ? path : null;
}

async function whoAmI(transport: Transport): Promise<Account> {
  const result = await transport.run({ script: 'id -un; id -gn; id -u; printf "%s\\n" "$HOME"' }, { timeoutMs: 15_000 });
  if (result.code !== 0) throw cannot("learn the SSH user's name and home", result.stderr);
  const [user = '', group = '', uid = '', home = ''] = result.stdout.split('\n');
  return { user, group, uid, home };
}

function cannot(what: string, why: string): DeployError {
  return new DeployError('deploy', `Setup could not ${what}: ${why.trim() || 'no reason given'}`, {
    hint: 'mcp-deploy doctor checks the deploy root and the rights setup needs.',
  });
}

async function existingPaths(transport: Transport, paths: readonly string[]): Promise<Set<string>> {
  const text = script(op('for p in'), ...paths.map(arg), op('; do [ -e "$p" ] && printf \'%s\\n\' "$p"; done; exit 0'));
  const result = await transport.run({ script: text }, { timeoutMs: 15_000 });
  return new Set(result.stdout.split('\n').filter((line) => paths.includes(line)));
}

/** Whether the SSH user can create or replace the file (an atomic write needs its folder writable). */
async function canWrite(transport: Transport, path: string): Promise<boolean> {
  const result = await transport.run(
    {
      script:
        'd=$(dirname "$f"); while [ ! -e "$d" ]; do d=$(dirname "$d"); done; [ -d "$d" ] && [ -w "$d" ] && [ -x "$d" ] && { [ ! -e "$f" ] || [ -w "$f" ]; }',
    },
    { env: { f: path }, timeoutMs: 15_000 },
  );
  return result.code === 0;
}
