import type { Transform } from 'node:stream';
import zlib from 'node:zlib';
import type { HostTools } from './host-tools.js';

/**
 * How the archive is compressed on the wire. Chosen by measuring (bench/README.md): zstd at a low
 * level costs less CPU than the time it saves even on loopback, so it wins wherever both ends
 * have it (Node's zlib has zstd from 22.15; the host needs the zstd program); gzip, which every
 * host has, at level 1 for the same reason; none only when the host has neither.
 */
export type Compression = 'zstd' | 'gzip' | 'none';

export const zstdLevel = 3;
export const gzipLevel = 1;

type ZlibWithZstd = typeof zlib & {
  createZstdCompress?: (options: { params: Record<number, number> }) => Transform;
  zstdCompressSync?: (data: Buffer, options: { params: Record<number, number>; dictionary?: Buffer }) => Buffer;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel?: number };
};

const withZstd = zlib as ZlibWithZstd;

export function localZstd(): boolean {
  return typeof withZstd.createZstdCompress === 'function' && withZstd.constants.ZSTD_c_compressionLevel !== undefined;
}

export function chooseCompression(host: HostTools): Compression {
  if (host.zstd && localZstd()) return 'zstd';
  if (host.gzip) return 'gzip';
  return 'none';
}

/** The compressing stream for `compression`, or null for none. */
export function compressor(compression: Compression): Transform | null {
  if (compression === 'gzip') return zlib.createGzip({ level: gzipLevel });
  if (compression === 'zstd') {
    const create = withZstd.createZstdCompress;
    const level = withZstd.constants.ZSTD_c_compressionLevel;
    if (create === undefined || level === undefined) throw new Error('this Node has no zstd');
    return create({ params: { [level]: zstdLevel } });
  }
  return null;
}

/** `data` compressed with `earlier` as zstd's dictionary: what `zstd -d -D <earlier>` turns back into `data`. */
export function zstdPatch(data: Buffer, earlier: Buffer): Buffer {
  const compress = withZstd.zstdCompressSync;
  const level = withZstd.constants.ZSTD_c_compressionLevel;
  if (compress === undefined || level === undefined) throw new Error('this Node has no zstd');
  return compress(data, { params: { [level]: zstdLevel }, dictionary: earlier });
}

/** The option that makes GNU tar decompress what it reads. */
export function tarDecompressOption(compression: Compression): readonly string[] {
  if (compression === 'zstd') return ['--zstd'];
  if (compression === 'gzip') return ['-z'];
  return [];
}
