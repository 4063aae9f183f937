import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Source trees for the upload benches, made fresh in a temp dir: the same every run (a seeded
 * generator), so figures compare between runs.
 *
 * - `data400`: 400 files of random bytes, 40 MB (the bench's tree before the relay): incompressible.
 * - `text4k`: about the tree of issue 15, a Python server's data folder: 3,900 files, ~32 MB,
 *   mostly text (JSON, CSV, Python, Markdown built from a word list), 5% binary.
 */
export type TreeName = 'text4k' | 'data400';

export function makeTree(root: string, name: TreeName): { files: number; bytes: number } {
  return name === 'text4k' ? textTree(root) : dataTree(root);
}

function dataTree(root: string): { files: number; bytes: number } {
  const files = Number(process.env['BENCH_FILES'] ?? 400);
  const megabytes = Number(process.env['BENCH_MB'] ?? 40);
  const sizes = Array.from({ length: files }, (_, index) => (index % 10 === 0 ? 8 : 1));
  const unit = Math.floor((megabytes * 1024 * 1024) / sizes.reduce((a, b) => a + b, 0));
  let bytes = 0;
  sizes.forEach((weight, index) => {
    const dir = join(root, `pkg${index % 20}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `file-${index}.bin`), randomBytes(weight * unit));
    bytes += weight * unit;
  });
  return { files, bytes };
}

const words = (
  'ontology concept label definition broader narrower related scheme member source note example alpha beta gamma ' +
  'delta server tool request response session resource prompt schema property value class instance graph triple ' +
  'subject predicate object literal language datatype identifier version release health status deploy guideline'
).split(' ');

function textTree(root: string): { files: number; bytes: number } {
  const random = seeded(15);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  const sentence = (count: number) => Array.from({ length: count }, () => pick(words)).join(' ');
  const files = 3_900;
  let bytes = 0;
  for (let index = 0; index < files; index += 1) {
    const dir = join(root, 'data', `group-${index % 40}`, `part-${index % 7}`);
    mkdirSync(dir, { recursive: true });
    // Sizes spread like a real data folder: most a few KB, some tens of KB (mean about 8 KB).
    const size = Math.floor(800 + random() ** 3 * 30_000);
    const kind = index % 20;
    let content: Buffer;
    let file: string;
    if (kind === 0) {
      file = `blob-${index}.bin`;
      content = randomBytes(size);
    } else if (kind < 8) {
      file = `record-${index}.json`;
      const rows: string[] = [];
      for (let length = 0; length < size; ) {
        const row = `  {"id": "${pick(words)}-${Math.floor(random() * 1e6)}", "label": "${sentence(3)}", "note": "${sentence(8)}"}`;
        rows.push(row);
        length += row.length + 2;
      }
      content = Buffer.from(`[\n${rows.join(',\n')}\n]\n`);
    } else if (kind < 13) {
      file = `table-${index}.csv`;
      const rows = ['id,label,score,note'];
      for (let length = 0; length < size; ) {
        const row = `${Math.floor(random() * 1e6)},${pick(words)},${(random() * 100).toFixed(3)},${sentence(6)}`;
        rows.push(row);
        length += row.length + 1;
      }
      content = Buffer.from(`${rows.join('\n')}\n`);
    } else if (kind < 17) {
      file = `module_${index}.py`;
      const lines: string[] = ['"""Generated module."""', ''];
      for (let length = 0; length < size; ) {
        const line = `def ${pick(words)}_${Math.floor(random() * 1e4)}(value):\n    return "${sentence(5)}" if value else None\n`;
        lines.push(line);
        length += line.length;
      }
      content = Buffer.from(lines.join('\n'));
    } else {
      file = `notes-${index}.md`;
      const lines: string[] = [`# ${sentence(3)}`];
      for (let length = 0; length < size; ) {
        const line = `- ${sentence(12)}.`;
        lines.push(line);
        length += line.length + 1;
      }
      content = Buffer.from(`${lines.join('\n')}\n`);
    }
    writeFileSync(join(dir, file), content);
    bytes += content.length;
  }
  writeFileSync(join(root, 'server.py'), 'print("bench")\n');
  return { files: files + 1, bytes: bytes + 15 };
}

/** mulberry32: small and good enough to make the same tree every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
