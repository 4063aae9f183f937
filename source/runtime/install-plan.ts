import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import semver from 'semver';
import type { Config } from '../config/load.js';
import type { HostRuntime } from './host-runtime.js';
import type { InstallInputs } from './install-inputs.js';
import { installCommand, type PackageManager } from './node-project.js';

/**
 * What the install step does on the host, decided from the local files (install-inputs.ts) and
 * what the host has (host-runtime.ts). A venv or deps plan is plain data and is recorded in the
 * release's release.json, so a rollback can check or rebuild exactly what the release used,
 * whatever the local config says by then.
 */

export type VenvTool = 'pip' | 'uv' | 'uv-pip';

export type VenvPlan = {
  readonly kind: 'venv';
  /** Names `shared/venvs/<hash>`. */
  readonly hash: string;
  readonly tool: VenvTool;
  /** The interpreter that makes the venv. */
  readonly python: string;
  readonly pipArgs: readonly string[];
  /** A requirements file in the release, for pip and uv-pip. */
  readonly requirements: string | null;
  /** Requirements made from pyproject.toml's dependencies, written into the venv folder, for pip and uv-pip. */
  readonly requirementsText: string | null;
  /** False when nothing is to be installed: the venv is made without pip. */
  readonly needsInstall: boolean;
};

export type DepsPlan = {
  readonly kind: 'deps';
  /** Names `shared/deps/<hash>`. */
  readonly hash: string;
  readonly tool: PackageManager | 'command';
  /** Run by sh in the install folder. */
  readonly command: string;
  /** Files copied from the release into the install folder before the command runs. */
  readonly copy: readonly string[];
  /** Written as package.json in the install folder (the install fields only), or null. */
  readonly packageJson: string | null;
  /** What the command makes in the install folder; each is linked into the release at the same path. */
  readonly paths: readonly string[];
  /** Put first on PATH for the command (the folder of an absolute runtime.node, so its npm is the one used). */
  readonly pathPrefix: string | null;
};

export type InstallPlan =
  | { readonly kind: 'none'; readonly reason: string }
  /** runtime.install as a plain string: run in the release folder at every deploy, as before caching existed. */
  | { readonly kind: 'command'; readonly command: string }
  | VenvPlan
  | DepsPlan;

/** What to do about a host that cannot carry out the plan; the install step stops with it before running anything. */
export type InstallProblem = { readonly message: string; readonly hint: string };

export type InstallDecision = {
  readonly plan: InstallPlan;
  /** Which tool installs and why, in words, for the plan screen and the install step. */
  readonly why: string;
  readonly problem: InstallProblem | null;
  /** The host's node and package.json's engines.node, when the runtime is node. */
  readonly node: { readonly version: string | null; readonly engines: string | null; readonly satisfied: boolean | null } | null;
};

export function decideInstall(config: Pick<Config, 'runtime'>, inputs: InstallInputs, host: HostRuntime): InstallDecision {
  switch (inputs.kind) {
    case 'none':
      return { plan: { kind: 'none', reason: inputs.reason }, why: inputs.reason, problem: null, node: null };
    case 'command':
      return {
        plan: { kind: 'command', command: inputs.command },
        why: 'runtime.install runs in the release folder at every deploy (give it cacheKey and cachePaths to reuse what it makes)',
        problem: null,
        node: null,
      };
    case 'requirements':
    case 'pyproject':
      return decideVenv(config, inputs, host);
    case 'node':
    case 'cached':
      return decideDeps(config, inputs, host);
  }
}

function decideVenv(
  config: Pick<Config, 'runtime'>,
  inputs: Extract<InstallInputs, { kind: 'requirements' | 'pyproject' }>,
  host: HostRuntime,
): InstallDecision {
  const { python, pip_args: pipArgs } = config.runtime;
  const base = { python, pipArgs, requirements: null, requirementsText: null } as const;
  const uv = host.uv;
  if (inputs.kind === 'requirements') {
    if (!inputs.needsInstall) {
      return {
        plan: {
          ...base,
          kind: 'venv',
          hash: digest(inputs.bytes, JSON.stringify(pipArgs), python),
          tool: 'pip',
          requirements: inputs.path,
          needsInstall: false,
        },
        why: `a bare venv: ${inputs.path} lists nothing to install`,
        problem: null,
        node: null,
      };
    }
    // Without uv the key is what it always was, so venvs built before uv support are reused.
    const hash = digest(inputs.bytes, JSON.stringify(pipArgs), python, ...(uv ? ['uv-pip'] : []));
    return {
      plan: { ...base, kind: 'venv', hash, tool: uv ? 'uv-pip' : 'pip', requirements: inputs.path, needsInstall: inputs.needsInstall },
      why: uv
        ? `uv pip install -r ${inputs.path}: the host has uv ${uv}`
        : `pip install -r ${inputs.path}${host.probed ? ': the host has no uv' : ''}`,
      problem: null,
      node: null,
    };
  }
  const { project, uvLock } = inputs;
  if (uvLock !== null && uv) {
    return {
      plan: { ...base, kind: 'venv', hash: digest('uv.lock', uvLock, python, 'uv-sync'), tool: 'uv', needsInstall: true },
      why: `uv sync --frozen: uv.lock pins the dependencies and the host has uv ${uv}`,
      problem: null,
      node: null,
    };
  }
  const text = project.dependencies.join('\n');
  const tool: VenvTool = uv ? 'uv-pip' : 'pip';
  const count = project.dependencies.length;
  const what = count === 0 ? 'no dependencies to install' : `${count} dependenc${count === 1 ? 'y' : 'ies'} from ${inputs.path}`;
  const unlocked = uvLock !== null ? `; uv.lock is not used because the host has no uv (install uv there for the locked versions)` : '';
  return {
    plan: {
      ...base,
      kind: 'venv',
      hash: digest('pyproject', text, JSON.stringify(pipArgs), python, tool),
      tool,
      requirementsText: count === 0 ? null : `${text}\n`,
      needsInstall: count > 0,
    },
    why: `${count === 0 ? 'a bare venv' : tool === 'uv-pip' ? `uv pip install (uv ${uv})` : 'pip install'}: ${what}${unlocked}`,
    problem: null,
    node: null,
  };
}

function decideDeps(
  config: Pick<Config, 'runtime'>,
  inputs: Extract<InstallInputs, { kind: 'node' | 'cached' }>,
  host: HostRuntime,
): InstallDecision {
  const nodeBinary = config.runtime.node;
  const pathPrefix = nodeBinary.includes('/') ? posix.dirname(nodeBinary) : null;
  const usesNode = inputs.kind === 'node' || inputs.nodeRuntime;
  const nodeVersion = host.node;
  const major = nodeVersion === null ? 'none' : String(semver.major(semver.coerce(nodeVersion) ?? '0.0.0'));
  const engines = inputs.kind === 'node' ? inputs.engines : null;
  const satisfied =
    engines === null || nodeVersion === null || semver.validRange(engines) === null
      ? null
      : semver.satisfies(nodeVersion, engines, { includePrerelease: true });
  let problem: InstallProblem | null = null;
  if (usesNode && nodeVersion === null && host.probed) {
    problem = {
      message: `${nodeBinary} was not found on the host.`,
      hint: `Install Node.js on the host (Debian/Ubuntu: apt-get install nodejs npm), or set runtime.node to its full path (a login shell's PATH is not used).`,
    };
  } else if (satisfied === false) {
    problem = {
      message: `Node ${nodeVersion} on the host does not satisfy engines.node "${engines}" in package.json.`,
      hint: `Install a Node.js the range allows on the host (or point runtime.node at one), or widen engines.node if the server runs on ${nodeVersion}.`,
    };
  }
  const node = usesNode ? { version: nodeVersion, engines, satisfied } : null;

  if (inputs.kind === 'cached') {
    const files = inputs.files.flatMap((file) => [file.path, file.bytes]);
    const hash = digest('cached-install-v1', inputs.command, JSON.stringify(inputs.paths), ...files, ...(usesNode ? ['node', major] : []));
    return {
      plan: {
        kind: 'deps',
        hash,
        tool: 'command',
        command: inputs.command,
        copy: inputs.files.map((file) => file.path),
        packageJson: null,
        paths: inputs.paths,
        pathPrefix,
      },
      why: `runtime.install in shared/deps, keyed by ${inputs.files.map((file) => file.path).join(', ')}${usesNode ? ` and node ${major}` : ''}`,
      problem,
      node,
    };
  }

  const { lock } = inputs;
  const managerVersion = host.managers[lock.manager];
  const command = inputs.command ?? installCommand(lock.manager, managerVersion);
  if (problem === null && inputs.command === null && managerVersion === null && host.probed) {
    problem = {
      message: `${lock.name} is the lockfile, but the host has no ${lock.manager}.`,
      hint:
        lock.manager === 'npm'
          ? 'Install npm on the host (Debian/Ubuntu: apt-get install npm).'
          : `Install ${lock.manager} on the host (npm install -g ${lock.manager}, or corepack enable ${lock.manager}), or keep only package-lock.json.`,
    };
  }
  const extra = inputs.managerFiles.flatMap((file) => [file.path, file.bytes]);
  const hash = digest('node-deps-v1', lock.manager, command, inputs.packageJsonKey, lock.name, lock.key, ...extra, 'node', major);
  return {
    plan: {
      kind: 'deps',
      hash,
      tool: lock.manager,
      command,
      copy: [lock.name, ...inputs.managerFiles.map((file) => file.path)],
      packageJson: inputs.packageJson,
      paths: ['node_modules'],
      pathPrefix,
    },
    why: `${inputs.command === null ? command.replace(/^YARN_NODE_LINKER=\S+ /, '') : `runtime.install (${command})`}: ${lock.why}${nodeVersion === null ? '' : `, for node ${major} on the host`}`,
    problem,
    node,
  };
}

/** sha256 of the parts, each followed by a NUL so that ("ab", "c") and ("a", "bc") differ. */
function digest(...parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  parts.forEach((part, index) => {
    hash.update(part);
    if (index < parts.length - 1) hash.update('\0');
  });
  return hash.digest('hex');
}
