/**
 * The 512-byte headers of a POSIX (pax) tar archive, written by us because the upload needs what
 * no tar library for Node writes: names as raw bytes (a Linux name need not be UTF-8) and GNU's
 * sparse format. What GNU tar reads (and busybox tar, sparse files aside):
 *
 * - a ustar header per member, its fields raw bytes (no charset is involved); a name or link
 *   target longer than ustar's fields, or a size past 8 GiB, goes in a pax extended header ('x')
 *   before it. GNU tar takes a pax path it cannot convert to the locale's charset as the bytes
 *   it is, which is what we want (checked with names that are not UTF-8 in C and UTF-8 locales);
 * - a sparse file as pax format 1.0: `GNU.sparse.*` records, then the member's data starts with
 *   the map of its data regions (decimal, one number a line) and holds only those regions.
 */

export const blockSize = 512;

export type HeaderFields = {
  /** Member name as bytes, '/'-separated, no leading '/'. Directories end without '/'; it is added. */
  readonly name: Buffer;
  readonly type: 'file' | 'dir' | 'symlink' | 'hardlink';
  readonly mode: number;
  /** Bytes of member data that follow (for a sparse file: map plus data regions). */
  readonly size: number;
  readonly mtimeSeconds: number;
  /** Symlink target or hard link target, as bytes. */
  readonly linkName?: Buffer;
  /** Extra pax records (GNU.sparse.*), written before the member's own header. */
  readonly pax?: readonly (readonly [string, Buffer])[];
};

const typeFlags = { file: '0', hardlink: '1', symlink: '2', dir: '5' } as const;
const maxOctal11 = 0o77777777777;

/** The header blocks of one member: a pax header with its records when needed, then the ustar header. */
export function memberHeader(fields: HeaderFields): Buffer {
  const name = fields.type === 'dir' ? Buffer.concat([fields.name, Buffer.from('/')]) : fields.name;
  const records: (readonly [string, Buffer])[] = [...(fields.pax ?? [])];
  const split = splitUstarName(name);
  if (split === null) records.push(['path', name]);
  const linkName = fields.linkName ?? Buffer.alloc(0);
  if (linkName.length > 100) records.push(['linkpath', linkName]);
  if (fields.size > maxOctal11) records.push(['size', Buffer.from(String(fields.size))]);

  const ustar = ustarBlock({
    name: split?.name ?? truncated(name, 100),
    prefix: split?.prefix ?? Buffer.alloc(0),
    typeFlag: typeFlags[fields.type],
    mode: fields.mode,
    size: Math.min(fields.size, maxOctal11),
    mtime: Math.max(0, Math.min(Math.floor(fields.mtimeSeconds), maxOctal11)),
    linkName: linkName.length > 100 ? truncated(linkName, 100) : linkName,
  });
  if (records.length === 0) return ustar;
  const body = Buffer.concat(records.map(([key, value]) => paxRecord(key, value)));
  const paxHeader = ustarBlock({
    name: Buffer.from('PaxHeaders/member'),
    prefix: Buffer.alloc(0),
    typeFlag: 'x',
    mode: 0o644,
    size: body.length,
    mtime: 0,
    linkName: Buffer.alloc(0),
  });
  return Buffer.concat([paxHeader, body, padding(body.length), ustar]);
}

/** Zero bytes that bring `length` up to a whole number of blocks. */
export function padding(length: number): Buffer {
  const rest = length % blockSize;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(blockSize - rest);
}

/** A tar reads in records of 20 blocks; GNU tar warns about an archive that ends inside one. */
const recordSize = 20 * blockSize;

/** Two zero blocks that end an archive of `length` bytes so far, and zeros to the end of its record. */
export function endOfArchive(length: number): Buffer {
  const end = length + 2 * blockSize;
  return Buffer.alloc(2 * blockSize + ((recordSize - (end % recordSize)) % recordSize));
}

/**
 * A pax record is "<length> <key>=<value>\n" where <length> counts the whole record, its own
 * digits included.
 */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(` ${key}=`) + value.length + 1;
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length) length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from('\n')]);
}

/** ustar holds a name of up to 100 bytes, or up to 255 split at a '/' into prefix (155) and name (100). */
function splitUstarName(name: Buffer): { name: Buffer; prefix: Buffer } | null {
  if (name.length <= 100) return { name, prefix: Buffer.alloc(0) };
  if (name.length > 256) return null;
  for (let slash = name.indexOf(0x2f, name.length - 101); slash !== -1 && slash <= 155; slash = name.indexOf(0x2f, slash + 1)) {
    if (slash > 0 && name.length - slash - 1 <= 100 && name.length - slash - 1 > 0)
      return { name: name.subarray(slash + 1), prefix: name.subarray(0, slash) };
  }
  return null;
}

function ustarBlock(fields: {
  name: Buffer;
  prefix: Buffer;
  typeFlag: string;
  mode: number;
  size: number;
  mtime: number;
  linkName: Buffer;
}): Buffer {
  const block = Buffer.alloc(blockSize);
  fields.name.copy(block, 0, 0, 100);
  octal(block, 100, 8, fields.mode & 0o7777);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, fields.size);
  octal(block, 136, 12, fields.mtime);
  block.write(fields.typeFlag, 156, 'latin1');
  fields.linkName.copy(block, 157, 0, 100);
  block.write('ustar\u000000', 257, 'latin1');
  fields.prefix.copy(block, 345, 0, 155);
  // The checksum is computed with its own field as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, 'latin1');
}

function truncated(bytes: Buffer, length: number): Buffer {
  return bytes.length <= length ? bytes : bytes.subarray(0, length);
}
