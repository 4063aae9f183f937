import { cmd, op, type ScriptPart } from './quote.js';
import { localZstd, zstdPatch } from './compression.js';
import type { HostTools } from './host-tools.js';
import type { UploadEntry } from './upload-entry.js';

/**
 * Data members that have an earlier version on the host (a release's manifest, against the base
 * release's) travel as a zstd patch: compressed with the earlier bytes as the dictionary, which
 * makes a 4,000-file manifest with one changed entry a few hundred bytes instead of ~170 KB (its
 * sha256 strings do not compress). The host rebuilds the file with `zstd -d -D <earlier file>`.
 * Without zstd on both ends the member travels whole.
 */
export function planPatchedData(
  entries: readonly UploadEntry[],
  tools: HostTools,
): { readonly entries: readonly UploadEntry[]; readonly steps: readonly ScriptPart[] } {
  if (!tools.zstd || !localZstd() || !entries.some((entry) => entry.kind === 'data' && entry.patchFrom !== undefined))
    return { entries, steps: [] };
  const steps: ScriptPart[] = [];
  const result = entries.map((entry): UploadEntry => {
    if (entry.kind !== 'data' || entry.patchFrom === undefined) return entry;
    const patch = `${entry.path}.mcp-deploy-patch`;
    steps.push(
      cmd(['zstd', '-q', '-d', '-D', entry.patchFrom.hostPath, '-o', entry.path, '--', patch]),
      op('&&'),
      cmd(['rm', '-f', '--', patch]),
      op('&&'),
      cmd(['chmod', (entry.mode & 0o7777).toString(8), '--', entry.path]),
      op('&&'),
    );
    return { kind: 'data', path: patch, mode: 0o600, data: zstdPatch(entry.data, entry.patchFrom.bytes) };
  });
  return { entries: result, steps };
}
