#!/usr/bin/env node
// Regenerates the fault matrix in docs/reliability.md from a real run:
//
//   node_modules/.bin/node scripts/fault-matrix.js            build, run test/reliability/fault-matrix.test.ts, copy the table
//   node_modules/.bin/node scripts/fault-matrix.js --copy     only copy the table of the last run (test-results/fault-matrix.md)
//
// The test writes the table to test-results/fault-matrix.md; this script replaces what is between
// the two markers in docs/reliability.md with it. A run with failures still writes its table (the
// failing cells are in bold), but the docs are only updated when every cell passed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const node = join(root, 'node_modules', '.bin', 'node');
const table = join(root, 'test-results', 'fault-matrix.md');
const docs = join(root, 'docs', 'reliability.md');
const begin = '<!-- fault-matrix:begin -->';
const end = '<!-- fault-matrix:end -->';

function run(args) {
  const result = spawnSync(existsSync(node) ? node : process.execPath, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FAULT_MATRIX_ONLY: '' },
  });
  return result.status ?? 1;
}

let status = 0;
if (!process.argv.includes('--copy')) {
  const started = Date.now();
  // The matrix runs the built binary: build it first (tsc reports type errors but still emits).
  run([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
  status = run([join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/reliability/fault-matrix.test.ts', '--reporter=default']);
  if (!existsSync(table) || statSync(table).mtimeMs < started) {
    process.stderr.write(`fault-matrix: the run wrote no table (${table}); docs unchanged\n`);
    process.exit(status || 1);
  }
  if (status !== 0) {
    process.stderr.write(`fault-matrix: some cells failed (see ${table}); docs unchanged\n`);
    process.exit(status);
  }
}

const text = readFileSync(docs, 'utf8');
const from = text.indexOf(begin);
const to = text.indexOf(end);
if (from === -1 || to === -1 || to < from) {
  process.stderr.write(`fault-matrix: ${docs} has no ${begin} … ${end} section\n`);
  process.exit(1);
}
const fresh = readFileSync(table, 'utf8').trim();
writeFileSync(docs, `${text.slice(0, from + begin.length)}\n${fresh}\n${text.slice(to)}`);
process.stdout.write(
  `fault-matrix: copied ${fresh.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| ---') && !line.startsWith('| world')).length} rows into docs/reliability.md\n`,
);
process.exit(status);
