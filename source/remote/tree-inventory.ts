import { gunzipSync } from 'node:zlib';
import { DeployError } from '../errors.js';
import { decodeFileName } from '../project/file-names.js';
import { op, type ScriptPart } from './quote.js';

/**
 * What a tree on the host holds, in one command run inside it: the size, link count and mode of
 * every regular file, and the sha256 of the files asked for (those with one link, i.e. not shared
 * with another release, or all). Names come back as bytes, NUL-separated, so every name survives.
 */

/** A regular file in a tree on the host. */
export type ArrivedFile = { readonly size: number; readonly links: number; readonly mode: number; readonly sha256: string | null };

const endMarker = 'mcp-deploy-inventory-end';

/**
 * Script text to run in the tree's root; its stdout is what `parseInventory` reads. With `gzip`
 * (the host has it) the listing travels compressed: for 4,000 files it is ~450 KB of names and
 * hashes, ~60 KB gzipped. A pipeline's status is its last command's, so completeness is told by
 * an end marker instead.
 */
export function inventoryScript(hash: 'sent' | 'all', gzip: boolean): ScriptPart[] {
  return [
    op("{ find . -type f -printf '%s %n %m %P\\0' && printf '\\0' &&"),
    op(hash === 'all' ? 'find . -type f -print0' : 'find . -type f -links 1 -print0'),
    op(`| xargs -0 -r sha256sum -z -- && printf '${endMarker}\\0'; }`),
    ...(gzip ? [op('| gzip -1 -c')] : []),
  ];
}

/** The inventory's files, or an error when the listing is incomplete (a failed find or sha256sum). */
export function readInventory(output: Buffer, gzip: boolean): Map<string, ArrivedFile> {
  const bytes = gzip && output.length > 0 ? gunzipSync(output) : output;
  const marker = Buffer.from(`${endMarker}\0`);
  if (bytes.length < marker.length || !bytes.subarray(bytes.length - marker.length).equals(marker))
    throw new DeployError('host-state', 'The host could not list the files it holds (find or sha256sum failed, or is missing).', {
      hint: 'Uploads need GNU find and coreutils on the host (Alpine: apk add findutils coreutils).',
    });
  return parseInventory(bytes.subarray(0, bytes.length - marker.length));
}

/** `<size> <links> <mode> <path>\0` records, an empty record, then sha256sum's `<hash>  ./<path>\0`. */
export function parseInventory(output: Buffer): Map<string, ArrivedFile> {
  const files = new Map<string, ArrivedFile>();
  let start = 0;
  let listing = true;
  const hashes = new Map<string, string>();
  while (start < output.length) {
    const end = output.indexOf(0, start);
    const record = output.subarray(start, end === -1 ? output.length : end);
    start = end === -1 ? output.length : end + 1;
    if (listing) {
      if (record.length === 0) {
        listing = false;
        continue;
      }
      const first = record.indexOf(0x20);
      const second = record.indexOf(0x20, first + 1);
      const third = record.indexOf(0x20, second + 1);
      files.set(decodeFileName(record.subarray(third + 1)), {
        size: Number(record.subarray(0, first).toString('latin1')),
        links: Number(record.subarray(first + 1, second).toString('latin1')),
        mode: Number.parseInt(record.subarray(second + 1, third).toString('latin1'), 8),
        sha256: null,
      });
    } else if (record.length > 0) {
      const hash = record.subarray(0, 64).toString('latin1');
      // "<hash>  ./<path>"; a name sha256sum had to escape would start with '\' (never with -z).
      hashes.set(decodeFileName(record.subarray(64 + 2 + 2)), hash);
    }
  }
  for (const [path, sha256] of hashes) {
    const file = files.get(path);
    if (file !== undefined) files.set(path, { ...file, sha256 });
  }
  return files;
}
