import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Parser } from 'n3';
import { glob } from 'tinyglobby';
import type { Config } from '../config/load.js';
import { StepFailure, StepSkipped } from '../engine/step.js';

/**
 * Parses every file matched by `config.ontologies` (globs relative to the source folder) as Turtle.
 * A glob that matches nothing is a failure too: it is almost always a typo or a moved folder, and
 * the server would then start without its data. n3 stops at the first error of a file, so each
 * file contributes at most one `file:line: message`.
 */
export async function checkTurtle(config: Pick<Config, 'source' | 'ontologies'>, options: { readonly signal?: AbortSignal } = {}): Promise<{ files: number; triples: number }> {
  if (config.ontologies.length === 0) throw new StepSkipped('no "ontologies" configured');
  const details: string[] = [];
  const files = new Set<string>();
  for (const [index, pattern] of config.ontologies.entries()) {
    const matches = await glob(pattern, { cwd: config.source, onlyFiles: true, followSymbolicLinks: false, expandDirectories: false, dot: true });
    if (matches.length === 0) details.push(`ontologies[${index}] ${JSON.stringify(pattern)} matched no file`);
    for (const match of matches) files.add(match);
  }
  let triples = 0;
  for (const file of [...files].sort()) {
    options.signal?.throwIfAborted();
    const text = await readFile(join(config.source, file), 'utf8');
    try {
      triples += new Parser({ format: 'text/turtle' }).parse(text).length;
    } catch (error) {
      details.push(`${file}:${lineOf(error)}: ${messageOf(error)}`);
    }
  }
  if (details.length > 0) {
    throw new StepFailure(`${details.length} ontology problem${details.length === 1 ? '' : 's'}.`, details);
  }
  return { files: files.size, triples };
}

function lineOf(error: unknown): number {
  const context = (error as { context?: { line?: unknown } }).context;
  if (typeof context?.line === 'number') return context.line;
  const match = /on line (\d+)/.exec(error instanceof Error ? error.message : '');
  return match ? Number(match[1]) : 0;
}

/** n3 ends its messages with " on line N."; the line is already in front, so drop the repeat. */
function messageOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ on line \d+\.?$/, '');
}
