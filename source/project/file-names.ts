import { isUtf8 } from 'node:buffer';

/**
 * A Linux file name is any bytes except '/' and NUL; most are UTF-8, some are not (a Latin-1
 * "café" from an old archive). mcp-deploy carries names as strings everywhere, and a byte that is
 * not part of valid UTF-8 is kept as a lone surrogate U+DC80..U+DCFF ("surrogate escape", the
 * same convention Python uses for file names). No valid UTF-8 decodes to a lone surrogate, so the
 * mapping is one-to-one: `encodeFileName(decodeFileName(bytes))` is always `bytes`. Such strings
 * survive JSON (lone surrogates are written as `\udcXX`), and Python's `open()` turns them back
 * into the same bytes. Only the edges that touch a file system convert back: `fsPath` here,
 * and the upload's tar stream, whose headers carry names as bytes (remote/tar-header.ts).
 */

const escapeBase = 0xdc00;
const escapedByte = /[\uDC80-\uDCFF]/u;

/** The bytes of a name read with `{ encoding: 'buffer' }`, as a string that keeps every byte. */
export function decodeFileName(raw: Buffer): string {
  if (isUtf8(raw)) return raw.toString('utf8');
  let text = '';
  let index = 0;
  while (index < raw.length) {
    const length = validSequenceLength(raw, index);
    if (length === 0) {
      text += String.fromCharCode(escapeBase + (raw[index] as number));
      index += 1;
    } else {
      text += raw.toString('utf8', index, index + length);
      index += length;
    }
  }
  return text;
}

/** The exact bytes a name decoded by `decodeFileName` came from. */
export function encodeFileName(name: string): Buffer {
  if (!hasEscapedBytes(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let run = '';
  for (const char of name) {
    const unit = char.charCodeAt(0);
    if (char.length === 1 && unit >= 0xdc80 && unit <= 0xdcff) {
      parts.push(Buffer.from(run, 'utf8'), Buffer.from([unit - escapeBase]));
      run = '';
    } else run += char;
  }
  parts.push(Buffer.from(run, 'utf8'));
  return Buffer.concat(parts);
}

/** True when the name holds bytes that are not UTF-8, so it cannot travel as a UTF-8 string. */
export function hasEscapedBytes(name: string): boolean {
  return escapedByte.test(name);
}

/** What to hand to node:fs: the string itself when it is plain UTF-8, its bytes otherwise. */
export function fsPath(path: string): string | Buffer {
  return hasEscapedBytes(path) ? encodeFileName(path) : path;
}

/** A name for messages: bytes that are not UTF-8 shown as \xNN, so a terminal shows what is there. */
export function printableName(name: string): string {
  if (!hasEscapedBytes(name)) return name;
  return name.replace(/[\uDC80-\uDCFF]/gu, (char) => `\\x${(char.charCodeAt(0) - escapeBase).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * How many bytes the well-formed UTF-8 sequence at `index` spans, or 0 when it is not one
 * (Unicode 15, table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
function validSequenceLength(bytes: Buffer, index: number): number {
  const lead = bytes[index] as number;
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return 0;
  if (index + length > bytes.length) return 0;
  const second = bytes[index + 1] as number;
  if (second < low || second > high) return 0;
  for (let offset = 2; offset < length; offset += 1) {
    const next = bytes[index + offset] as number;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}
