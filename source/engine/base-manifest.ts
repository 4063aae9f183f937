import { gunzipSync } from 'node:zlib';
import type { HostLayout } from '../host/layout.js';
import { arg, op, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { cachedManifest, storeManifest } from './manifest-cache.js';
import { manifestSchema, type Manifest } from './manifest.js';

/**
 * The manifest of the release a deploy compares with (the active one), in the same command that
 * prepares the upload: the host says the sha256 of its manifest file, and sends the file itself
 * (gzip, base64) only when this machine's cache has no copy with that hash (manifest-cache.ts).
 */

const hashMarker = 'mcp-deploy-base-manifest:';
const bodyMarker = 'mcp-deploy-base-manifest-body:';

/** Script text that prints the base manifest's hash, and its body unless `knownHash` matches. */
export function baseManifestScript(layout: HostLayout, base: string, knownHash: string | null): ScriptPart[] {
  return [
    op('{ set --'),
    arg(layout.manifestJson(base)),
    arg(knownHash ?? '-'),
    op(`; if test -f "$1"; then mcpd_h=$(sha256sum < "$1" | cut -c1-64); printf '${hashMarker} %s\\n' "$mcpd_h";`),
    op(`if test "$mcpd_h" != "$2"; then printf '${bodyMarker} '; if command -v gzip >/dev/null 2>&1;`),
    op(`then printf 'gz '; gzip -c < "$1" | base64 -w0; else printf 'raw '; base64 -w0 < "$1"; fi; echo; fi;`),
    op(`else echo '${hashMarker} none'; fi; }`),
  ];
}

export type BaseManifest = {
  readonly manifest: Manifest | null;
  /** The manifest file's bytes, as they are on the host (a patch of the next manifest is made against them). */
  readonly bytes: Buffer | null;
  readonly transferred: boolean;
};

/** Reads what `baseManifestScript` printed; a manifest that cannot be read is null (it only costs a full upload). */
export async function parseBaseManifest(
  output: string,
  base: string,
  cached: { hash: string; bytes: Buffer } | null,
): Promise<BaseManifest> {
  const lines = output.split('\n');
  const hash = lines
    .find((line) => line.startsWith(hashMarker))
    ?.slice(hashMarker.length)
    .trim();
  if (hash === undefined || hash === 'none') return { manifest: null, bytes: null, transferred: false };
  const body = lines
    .find((line) => line.startsWith(bodyMarker))
    ?.slice(bodyMarker.length)
    .trim();
  let bytes: Buffer;
  if (body === undefined) {
    if (cached === null || cached.hash !== hash) return { manifest: null, bytes: null, transferred: false };
    bytes = cached.bytes;
  } else {
    const [format, data = ''] = body.split(' ');
    try {
      bytes = format === 'gz' ? gunzipSync(Buffer.from(data, 'base64')) : Buffer.from(data, 'base64');
    } catch {
      return { manifest: null, bytes: null, transferred: true };
    }
  }
  const manifest = parseManifest(bytes);
  if (manifest !== null && body !== undefined) await storeManifest(base, bytes);
  return { manifest, bytes: manifest === null ? null : bytes, transferred: body !== undefined };
}

export function parseManifest(bytes: Buffer): Manifest | null {
  try {
    return manifestSchema.parse(JSON.parse(bytes.toString('utf8')));
  } catch {
    return null;
  }
}

/** The base manifest on its own (the plan shown before a deploy): one command, the body only on a cache miss. */
export async function readBaseManifest(transport: Transport, layout: HostLayout, base: string | null): Promise<Manifest | null> {
  if (base === null) return null;
  const cached = await cachedManifest(base);
  const result = await transport.run({ script: script(...baseManifestScript(layout, base, cached?.hash ?? null)) });
  return (await parseBaseManifest(result.stdout, base, cached)).manifest;
}
