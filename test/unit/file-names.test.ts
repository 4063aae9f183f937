import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFileName, encodeFileName, fsPath, hasEscapedBytes, printableName } from '../../source/project/file-names.js';

/** Names as Linux allows them: any bytes but NUL and '/'. */
const rawName = fc
  .uint8Array({ minLength: 1, maxLength: 40 })
  .map((bytes) => Buffer.from(bytes.map((byte) => (byte === 0 || byte === 0x2f ? 0x41 : byte))));

describe('file names that are not UTF-8', () => {
  it('round-trip byte for byte through decode and encode, for any bytes', () => {
    fc.assert(
      fc.property(rawName, (raw) => {
        expect(encodeFileName(decodeFileName(raw)).equals(raw)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trip through JSON, as they do in the manifest', () => {
    fc.assert(
      fc.property(rawName, (raw) => {
        const text = JSON.stringify({ path: decodeFileName(raw) });
        expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
        expect(encodeFileName((JSON.parse(text) as { path: string }).path).equals(raw)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('leave valid UTF-8 exactly as Node decodes it, astral characters included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (text) => {
        const raw = Buffer.from(text, 'utf8');
        expect(decodeFileName(raw)).toBe(raw.toString('utf8'));
        expect(hasEscapedBytes(decodeFileName(raw))).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('escape each stray byte on its own and keep the valid sequences around it', () => {
    // Latin-1 é, a truncated 3-byte sequence, an overlong '/', an encoded surrogate, then valid UTF-8.
    const raw = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0xe2, 0x82, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xc3, 0xa9, 0xf0, 0x9f, 0x9a, 0x80]);
    const name = decodeFileName(raw);
    expect(printableName(name)).toBe('caf\\xE9\\xE2\\x82\\xC0\\xAF\\xED\\xA0\\x80é🚀');
    expect(hasEscapedBytes(name)).toBe(true);
    expect(fsPath(name)).toEqual(raw);
    expect(fsPath('plain/é.txt')).toBe('plain/é.txt');
  });
});
