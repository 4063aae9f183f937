import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockSize, endOfArchive, memberHeader } from '../../source/remote/tar-header.js';

/** The pax records of a header made by memberHeader, checking each record's own length field. */
function paxRecords(header: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  if (header[156] !== 'x'.charCodeAt(0)) return records;
  const size = Number.parseInt(header.subarray(124, 135).toString('latin1'), 8);
  let body = header.subarray(blockSize, blockSize + size);
  while (body.length > 0) {
    const space = body.indexOf(0x20);
    const length = Number(body.subarray(0, space).toString('latin1'));
    const record = body.subarray(0, length);
    expect(record.at(-1)).toBe(0x0a);
    const equals = record.indexOf(0x3d);
    records.set(record.subarray(space + 1, equals).toString('latin1'), record.subarray(equals + 1, length - 1));
    body = body.subarray(length);
  }
  return records;
}

function checksumOk(block: Buffer): boolean {
  const stored = Number.parseInt(block.subarray(148, 154).toString('latin1'), 8);
  let sum = 0;
  for (let index = 0; index < blockSize; index += 1) sum += index >= 148 && index < 156 ? 0x20 : (block[index] as number);
  return sum === stored;
}

describe('tar headers', () => {
  it('carry any name as its bytes: in ustar fields when they fit, else in a pax record whose length counts itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), (raw) => {
        const name = Buffer.from(raw.map((byte) => (byte === 0 ? 0x41 : byte)));
        const header = memberHeader({ name, type: 'file', mode: 0o644, size: 5, mtimeSeconds: 1 });
        const pax = paxRecords(header);
        const ustar = header.subarray(header.length - blockSize);
        expect(checksumOk(ustar)).toBe(true);
        if (pax.has('path')) expect(pax.get('path')?.equals(name)).toBe(true);
        else {
          const field = (from: number, length: number) => {
            const bytes = ustar.subarray(from, from + length);
            const end = bytes.indexOf(0);
            return end === -1 ? bytes : bytes.subarray(0, end);
          };
          const prefix = field(345, 155);
          const rebuilt = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from('/'), field(0, 100)]) : field(0, 100);
          expect(rebuilt.equals(name)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('give sizes past 8 GiB a pax size record', () => {
    const header = memberHeader({ name: Buffer.from('big'), type: 'file', mode: 0o644, size: 9 * 1024 ** 3, mtimeSeconds: 1 });
    expect(paxRecords(header).get('size')?.toString()).toBe(String(9 * 1024 ** 3));
  });

  it('end an archive on a whole record of 20 blocks', () => {
    for (const length of [0, 512, 10_240, 12_800]) expect((length + endOfArchive(length).length) % (20 * blockSize)).toBe(0);
    expect(endOfArchive(10_240 - 1024).length).toBe(1024);
  });
});
