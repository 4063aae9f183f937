import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import type { SourceEntry } from '../project/source-files.js';
import { depsLinks } from '../runtime/deps-install.js';
import { installInputPaths, readInstallInputs, type InstallInputs } from '../runtime/install-inputs.js';
import type { InstallPlan } from '../runtime/install-plan.js';
import { needsStartScript, readStartScript } from '../runtime/runner.js';
import type { Manifest } from './manifest.js';

/**
 * The local half of a release's install, checked while its files are hashed (before the host is
 * touched): what the install reads must ship, what it links in must not, and a node server
 * without an entry must have a start script.
 */
export function readReleaseInstall(
  config: Config,
  manifest: Manifest,
): { readonly inputs: InstallInputs; readonly startScript: string | null } {
  const inputs = readInstallInputs(config);
  const shipped = new Set(manifest.map((entry) => entry.path));
  const missing = installInputPaths(inputs).filter((path) => !shipped.has(path));
  if (missing.length > 0) {
    throw new DeployError(
      'validate',
      `The install needs ${missing.join(', ')}, but ${missing.length === 1 ? 'it does' : 'they do'} not ship.`,
      {
        hint: 'Check "exclude" (and build.output): the host installs from these files.',
      },
    );
  }
  const linked = typeof config.runtime.install === 'object' ? config.runtime.install.cachePaths : [];
  for (const path of linked) {
    const clash = manifest.find((entry) => entry.path === path || entry.path.startsWith(`${path}/`));
    if (clash !== undefined) {
      throw new DeployError(
        'validate',
        `runtime.install.cachePaths: ${path} is linked from the install folder, but ${clash.path} ships in the release.`,
        {
          hint: `Add "${path}/" to "exclude": what the install makes there comes from shared/deps on the host.`,
        },
      );
    }
  }
  let startScript: string | null = null;
  if (needsStartScript(config.runtime)) {
    startScript = readStartScript(config.source);
    if (startScript === null) {
      throw new DeployError('config', 'runtime.type "node" needs runtime.entry, or a "start" script in package.json.', {
        hint: 'Set runtime.entry to the file node runs (e.g. "dist/index.js").',
      });
    }
  }
  return { inputs, startScript };
}

/** The release's entries with the install folder's paths linked in (and the folders those links sit in). */
export function withInstallLinks(
  local: { readonly entries: readonly SourceEntry[]; readonly manifest: Manifest },
  layout: HostLayout,
  plan: InstallPlan,
  release: string,
): { entries: SourceEntry[]; manifest: Manifest } {
  if (plan.kind !== 'deps') return { entries: [...local.entries], manifest: local.manifest };
  const links = depsLinks(layout, plan, layout.releaseDir(release));
  const taken = new Set(links.map((link) => link.path));
  const entries: SourceEntry[] = local.entries.filter((entry) => !taken.has(entry.path));
  const folders = new Set(entries.filter((entry) => entry.kind === 'dir').map((entry) => entry.path));
  for (const link of links) {
    const parts = link.path.split('/');
    for (let depth = 1; depth < parts.length; depth += 1) {
      const folder = parts.slice(0, depth).join('/');
      if (!folders.has(folder)) {
        folders.add(folder);
        entries.push({ kind: 'dir', path: folder, mode: 0o755 });
      }
    }
    entries.push({ kind: 'symlink', path: link.path, target: link.target });
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { entries, manifest: local.manifest };
}
