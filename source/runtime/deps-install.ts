import { posix } from 'node:path';
import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { arg, cmd, op, quote, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import type { DepsPlan } from './install-plan.js';
import { completeMarker, installTimeoutMs } from './venv-install.js';

/**
 * Installs into `shared/deps/<hash>` once; every release with the same hash links to it and runs
 * no install at all. The folder gets the install's own inputs only (package.json's install fields,
 * the lockfile, the manager's config files, or a cached install's cacheKey files), copied from the
 * release, so what it holds depends on nothing the hash does not cover. Built in place, like a
 * venv, and marked complete last; a folder without the marker is an interrupted build, rebuilt.
 */
export async function ensureDeps(
  transport: Transport,
  layout: HostLayout,
  plan: DepsPlan,
  releaseDir: string,
  log: (line: string) => void,
): Promise<'cached' | 'built'> {
  const folder = layout.depsDir(plan.hash);
  const marker = `${folder}/${completeMarker}`;
  const cached = await transport.run(['test', '-f', marker]);
  if (cached.code === 0) return 'cached';
  const text = script(
    cmd(['rm', '-rf', folder]),
    op('&&'),
    cmd(['mkdir', '-p', folder]),
    op('&&'),
    cmd(['cd', folder]),
    ...(plan.packageJson === null ? [] : [op("&& printf '%s'"), arg(plan.packageJson), op('> package.json')]),
    ...plan.copy.flatMap(copyFromRelease(releaseDir)),
    ...(plan.pathPrefix === null ? [] : [op(`&& PATH=${quote(plan.pathPrefix)}:"$PATH" && export PATH`)]),
    op('&&'),
    cmd(['env', `MCP_DEPLOY_RELEASE_DIR=${releaseDir}`, 'sh', '-c', plan.command]),
    ...plan.paths.flatMap((path) => [
      op('&& { [ -e'),
      arg(path),
      op('] || [ -L'),
      arg(path),
      op("] || { printf 'the install made no %s\\n' "),
      arg(path),
      op('>&2; exit 3; }; }'),
    ]),
    op('&& date -u +%Y-%m-%dT%H:%M:%SZ >'),
    arg(marker),
  );
  const result = await transport.stream({ script: text }, { onLine: (line) => log(line), timeoutMs: installTimeoutMs });
  if (result.code !== 0) {
    await transport.run(['rm', '-rf', folder]);
    throw new DeployError('deploy', `${installTitle(plan)} failed (exit ${result.code}); see the log lines above.`, {
      hint:
        plan.tool === 'command'
          ? `runtime.install runs in the install folder with only its cacheKey files (the release is at $MCP_DEPLOY_RELEASE_DIR) and must make ${plan.paths.join(', ')} there.`
          : `${plan.tool} installs exactly what the lockfile pins: check that it is up to date with package.json (run ${plan.tool} install locally and commit it), and that the host reaches the registry.`,
    });
  }
  return 'built';
}

/** How the install is named in messages: "npm ci", "runtime.install". */
export function installTitle(plan: DepsPlan): string {
  return plan.tool === 'command'
    ? 'runtime.install'
    : plan.command
        .replace(/^\S+=\S+ /, '')
        .split(' ')
        .slice(0, 2)
        .join(' ');
}

function copyFromRelease(releaseDir: string): (path: string) => ScriptPart[] {
  return (path) => {
    const parent = posix.dirname(path);
    return [
      ...(parent === '.' ? [] : [op('&&'), cmd(['mkdir', '-p', parent])]),
      op('&&'),
      cmd(['cp', '-p', `${releaseDir}/${path}`, path]),
    ];
  };
}

/**
 * The symlinks that put a deps folder's paths into a release, relative (like `current`) so the
 * deploy root can move: `node_modules -> ../../shared/deps/<hash>/node_modules`. Made while the
 * release is uploaded, so a published release never changes.
 */
export function depsLinks(layout: HostLayout, plan: DepsPlan, releaseDir: string): { readonly path: string; readonly target: string }[] {
  return plan.paths.map((path) => {
    const link = posix.join(releaseDir, path);
    return { path, target: posix.relative(posix.dirname(link), posix.join(layout.depsDir(plan.hash), path)) };
  });
}
