import { DeployError } from '../errors.js';
import { assertSafeReleaseId, hostLayout } from '../host/layout.js';
import { readState } from '../host/state.js';
import { cmd, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { probeHostTools } from '../remote/host-tools.js';
import { inventoryScript, readInventory } from '../remote/tree-inventory.js';
import { readBaseManifest } from './base-manifest.js';
import { checkRelease, type ReleaseCheck } from './release-check.js';

export type VerifiedRelease = { readonly release: string; readonly check: ReleaseCheck };

/**
 * `mcp-deploy verify-release [ID]`: a release on the host against its own manifest, every file's
 * size and sha256 computed there (the default is the active release). Two commands, sent at once:
 * the manifest (only its hash when this machine has it cached) and the release's inventory.
 */
export async function verifyRelease(transport: Transport, root: string, requested: string | null): Promise<VerifiedRelease> {
  const layout = hostLayout(root);
  const release = requested === null ? await activeRelease(transport, root) : assertSafeReleaseId(requested);
  const tools = await probeHostTools(transport);
  const [manifest, inventory] = await Promise.all([
    readBaseManifest(transport, layout, release),
    transport.run({ script: script(cmd(['cd', '--', layout.releaseDir(release)]), op('&&'), ...inventoryScript('all', tools.gzip)) }),
  ]);
  if (inventory.code !== 0) {
    const missing = (await transport.run(['test', '-d', layout.releaseDir(release)])).code !== 0;
    throw new DeployError(
      missing ? 'usage' : 'host-state',
      missing
        ? `There is no release ${release} on ${transport.label}.`
        : `Could not list release ${release} on ${transport.label}: ${inventory.stderr.trim().split('\n').slice(-3).join(' ')}`,
      missing ? { hint: 'mcp-deploy releases lists the releases on the host.' } : {},
    );
  }
  if (manifest === null)
    throw new DeployError('host-state', `Release ${release} on ${transport.label} has no readable manifest to check it against.`, {
      hint: 'A release laid out by hand has none; deploy again to get one that can be checked.',
    });
  return { release, check: checkRelease(manifest, readInventory(inventory.stdoutBytes, tools.gzip)) };
}

async function activeRelease(transport: Transport, root: string): Promise<string> {
  const state = await readState(transport, hostLayout(root));
  const release = state?.active?.release;
  if (release === undefined)
    throw new DeployError('usage', `Nothing is deployed on ${transport.label} yet: name the release to check.`, {
      hint: 'mcp-deploy releases lists the releases on the host.',
    });
  return release;
}
