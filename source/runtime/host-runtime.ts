import type { Config } from '../config/load.js';
import { arg, op, quote, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import type { InstallInputs } from './install-inputs.js';
import { packageManagers, type PackageManager } from './node-project.js';

/** The tools on the host an install depends on: versions (npm's and pnpm's path), or null where a tool is missing. */
export type HostRuntime = {
  /** False when nothing was asked (the plan does not depend on the host): missing then means unknown. */
  readonly probed: boolean;
  readonly node: string | null;
  readonly managers: Readonly<Record<PackageManager, string | null>>;
  readonly uv: string | null;
};

export const unprobedHost: HostRuntime = { probed: false, node: null, managers: { npm: null, pnpm: null, yarn: null }, uv: null };

/** Which host tools the install decision depends on; none for a plain command, a bare venv or nothing to install. */
export function hostQuestions(inputs: InstallInputs): { readonly node: boolean; readonly uv: boolean } {
  const node = inputs.kind === 'node' || (inputs.kind === 'cached' && inputs.nodeRuntime);
  // uv only matters when there is something to install (or a uv.lock to install from).
  const uv =
    (inputs.kind === 'requirements' && inputs.needsInstall) ||
    (inputs.kind === 'pyproject' && (inputs.project.dependencies.length > 0 || inputs.uvLock !== null));
  return { node, uv };
}

/**
 * One command that prints what the host has: `node <version>`, each package manager (its path,
 * yarn's version when yarn installs), `uv <version>`, with `-` for a missing one. The PATH is the one the server and the install get
 * (a non-login shell's), with an absolute runtime.node's folder first.
 */
export async function probeHostRuntime(transport: Transport, config: Pick<Config, 'runtime'>, inputs: InstallInputs): Promise<HostRuntime> {
  const asked = hostQuestions(inputs);
  if (!asked.node && !asked.uv) return unprobedHost;
  const node = config.runtime.node;
  const prefix = node.includes('/') ? node.slice(0, node.lastIndexOf('/')) : null;
  const version = (label: string, ...command: ReturnType<typeof op>[]) => [
    op(`v=$(`),
    ...command,
    op(`2>/dev/null | head -n 1) && [ -n "$v" ] || v=-; printf '%s %s\\n' ${label} "$v";`),
  ];
  // Cheap questions only (each node start costs a fifth of a second): `node --version` and
  // `command -v`; yarn's version only when yarn installs, as its major picks the command.
  const lockManager = inputs.kind === 'node' ? inputs.lock.manager : null;
  const parts = [
    ...(prefix === null ? [] : [op(`PATH=${quote(prefix)}:"$PATH"; export PATH;`)]),
    ...(asked.node
      ? [
          ...version('node', arg(node), op("--version | sed 's/^v//'")),
          ...packageManagers.flatMap((manager) =>
            version(
              manager,
              op(manager === 'yarn' && lockManager === 'yarn' ? 'command -v yarn >/dev/null && yarn --version' : `command -v ${manager}`),
            ),
          ),
        ]
      : []),
    ...(asked.uv ? version('uv', op("command -v uv >/dev/null && uv --version | sed 's/^uv //; s/ .*//'")) : []),
    op('exit 0'),
  ];
  const result = await transport.run({ script: script(...parts) }, { timeoutMs: 30_000 });
  const found = new Map<string, string | null>();
  for (const line of result.stdout.split('\n')) {
    const match = /^(\S+) (.+)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) found.set(match[1], match[2] === '-' ? null : match[2].trim());
  }
  const get = (name: string) => found.get(name) ?? null;
  return {
    probed: true,
    node: get('node'),
    managers: { npm: get('npm'), pnpm: get('pnpm'), yarn: get('yarn') },
    uv: get('uv'),
  };
}
