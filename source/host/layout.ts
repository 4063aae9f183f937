import { posix } from 'node:path';
import { DeployError } from '../errors.js';

/**
 * Every path mcp-deploy reads or writes under a target's deploy root, in one place, so the
 * layout documented in docs/host-layout.md is the layout the code uses. Hosts are POSIX, so the
 * paths are joined with '/' whatever the local platform is.
 *
 * Functions that take a release id or a venv hash refuse unsafe names themselves: a path built
 * here can never walk out of the deploy root, whoever supplied the name.
 */

export const colours = ['blue', 'green'] as const;
export type Colour = (typeof colours)[number];

export type HostLayout = {
  readonly root: string;
  readonly releasesDir: string;
  releaseDir(id: string): string;
  /** Where an upload is assembled before it is renamed to `releaseDir(id)`. */
  partialDir(id: string): string;
  metaDir(id: string): string;
  releaseJson(id: string): string;
  manifestJson(id: string): string;
  toolsJson(id: string): string;
  contractJson(id: string): string;
  failedJson(id: string): string;
  readonly current: string;
  readonly sharedDir: string;
  /**
   * `shared/.env`: the one environment every release used before each got its own. Still read for
   * a release deployed then (see engine/env-file.ts); never written any more.
   */
  readonly envFile: string;
  /** `shared/env/`: one environment file per release, mode 700. */
  readonly envDir: string;
  /** `shared/env/<id>.env`: the environment a release runs with, mode 600. */
  releaseEnvFile(id: string): string;
  readonly venvsDir: string;
  venvDir(hash: string): string;
  /** `shared/deps`: installs keyed by the hash of what pins them (node_modules, a cached runtime.install). */
  readonly depsRoot: string;
  depsDir(hash: string): string;
  readonly logsDir: string;
  logFile(id: string): string;
  readonly runDir: string;
  pidFile(colour: Colour): string;
  readonly stateFile: string;
  readonly lockDir: string;
  readonly lockInfo: string;
  /** Touched by the lock's holder every few seconds: its age says whether the holder still runs. */
  readonly lockHeartbeat: string;
  readonly auditLog: string;
  /** `mcp-deploy monitor`'s last verdict and where it stopped reading (docs/host-layout.md). */
  readonly monitorState: string;
  /** Held (a directory) while a `monitor` run judges, so two runs never both send the same alert. */
  readonly monitorLock: string;
  /** The default nginx upstream include; a target may configure another file. */
  readonly nginxUpstreamFile: string;
};

export function hostLayout(root: string): HostLayout {
  if (root === '') throw new DeployError('config', 'The deploy root (target "path") must not be empty.');
  // A trailing slash would give "//" in every path, which works but reads badly in messages.
  const base = root.length > 1 ? root.replace(/\/+$/, '') : root;
  const join = (...parts: string[]) => posix.join(base, ...parts);
  const releasesDir = join('releases');
  const releaseDir = (id: string) => posix.join(releasesDir, assertSafeReleaseId(id));
  const metaDir = (id: string) => posix.join(releaseDir(id), metaDirName);
  const sharedDir = join('shared');
  const venvsDir = posix.join(sharedDir, 'venvs');
  const logsDir = posix.join(sharedDir, 'logs');
  const depsRoot = posix.join(sharedDir, 'deps');
  const runDir = join('run');
  const lockDir = join('deploy.lock');
  return {
    root: base,
    releasesDir,
    releaseDir,
    partialDir: (id) => posix.join(releasesDir, partialDirName(id)),
    metaDir,
    releaseJson: (id) => posix.join(metaDir(id), 'release.json'),
    manifestJson: (id) => posix.join(metaDir(id), 'manifest.json'),
    toolsJson: (id) => posix.join(metaDir(id), 'tools.json'),
    contractJson: (id) => posix.join(metaDir(id), 'contract.json'),
    failedJson: (id) => posix.join(metaDir(id), 'failed.json'),
    current: join('current'),
    sharedDir,
    envFile: posix.join(sharedDir, '.env'),
    envDir: posix.join(sharedDir, 'env'),
    releaseEnvFile: (id) => posix.join(sharedDir, 'env', `${assertSafeReleaseId(id)}.env`),
    venvsDir,
    venvDir: (hash) => posix.join(venvsDir, assertSafeName(hash, 'venv hash')),
    depsRoot,
    depsDir: (hash) => posix.join(depsRoot, assertSafeName(hash, 'install hash')),
    logsDir,
    logFile: (id) => posix.join(logsDir, `${assertSafeReleaseId(id)}.log`),
    runDir,
    pidFile: (colour) => {
      // Typed, but the value may come from a parsed file: check rather than trust.
      if (!colours.includes(colour)) throw new Error(`not a colour: ${JSON.stringify(colour)}`);
      return posix.join(runDir, `${colour}.pid`);
    },
    stateFile: join('state.json'),
    lockDir,
    lockInfo: posix.join(lockDir, 'info.json'),
    lockHeartbeat: posix.join(lockDir, 'heartbeat'),
    auditLog: join('audit.log'),
    monitorState: join('monitor.json'),
    monitorLock: join('monitor.lock'),
    nginxUpstreamFile: join('nginx-upstream.conf'),
  };
}

/** The folder inside each release that holds mcp-deploy's own files. */
export const metaDirName = '.mcp-deploy';

/** `releases/.<id>.partial`: dot-named, so `releases/*` listings never see it. */
export function partialDirName(id: string): string {
  return `.${assertSafeReleaseId(id)}.partial`;
}

/** The id in a partial dir's name, or null for a name that is not one. */
export function idOfPartialDirName(name: string): string | null {
  const match = /^\.(.+)\.partial$/.exec(name);
  return match?.[1] !== undefined && isSafeReleaseId(match[1]) ? match[1] : null;
}

/**
 * Letters, digits, '.', '_' and '-', starting with a letter or digit: no '/', no '..' segments,
 * no hidden names, no leading '-' that a command could take for an option, nothing a terminal
 * could render misleadingly. Long enough for any id we make, short enough for any file system.
 */
const safeName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isSafeReleaseId(id: string): boolean {
  return safeName.test(id) && !id.includes('..');
}

/** Returns the id when it is safe to use in a path; otherwise a usage error naming it. */
export function assertSafeReleaseId(id: string, what = 'release id'): string {
  return assertSafeName(id, what);
}

function assertSafeName(name: string, what: string): string {
  if (typeof name === 'string' && isSafeReleaseId(name)) return name;
  throw new DeployError('usage', `Not a valid ${what}: ${JSON.stringify(name)}.`, {
    hint: `A ${what} uses letters, digits, ".", "_" and "-", starts with a letter or digit, and has no "..", such as 20261124T101500Z-abc1234.`,
  });
}

/**
 * A new release id: the host's UTC time stamp (see host-clock.ts) and, when the source is a git
 * checkout, the short commit, with `-dirty` when what ships differs from that commit. Ids sort by
 * time as plain strings.
 */
export function makeReleaseId(hostStamp: string, gitSha: string | null, options: { readonly dirty?: boolean } = {}): string {
  if (!/^\d{8}T\d{6}Z$/.test(hostStamp)) throw new Error(`not a host time stamp: ${JSON.stringify(hostStamp)}`);
  if (gitSha === null) return hostStamp;
  if (!/^[0-9a-f]{4,64}$/i.test(gitSha)) throw new Error(`not a git commit: ${JSON.stringify(gitSha)}`);
  return `${hostStamp}-${gitSha.slice(0, 7).toLowerCase()}${options.dirty ? '-dirty' : ''}`;
}
