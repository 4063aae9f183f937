import { readFile } from 'node:fs/promises';
import { Parser } from 'n3';
import picomatch from 'picomatch';
import type { Config } from '../config/load.js';
import { StepFailure, StepSkipped } from '../run/step.js';
import { fsPath, printableName } from '../project/file-names.js';
import type { SourceEntry } from '../project/source-files.js';

/**
 * Parses every file matched by `config.ontologies` (globs relative to the source folder) as Turtle.
 * The globs are matched against the files that ship (listSourceFiles), so a file left out by
 * "exclude" does not count, and a name that is not UTF-8 is read by its bytes. A glob that
 * matches nothing is a failure too: it is almost always a typo, a moved folder or an exclude that
 * takes the data, and the server would then start without it. n3 stops at the first error of a
 * file, so each file contributes at most one `file:line: message`.
 */
export async function checkTurtle(
  config: Pick<Config, 'ontologies'>,
  entries: readonly SourceEntry[],
  options: { readonly signal?: AbortSignal } = {},
): Promise<{ files: number; triples: number }> {
  if (config.ontologies.length === 0) throw new StepSkipped('no "ontologies" configured');
  const shipped = entries.filter((entry): entry is Extract<SourceEntry, { kind: 'file' }> => entry.kind === 'file');
  const details: string[] = [];
  const files = new Map<string, Extract<SourceEntry, { kind: 'file' }>>();
  for (const [index, pattern] of config.ontologies.entries()) {
    // Relative to the source folder either way: "./ontologies/*.ttl" means "ontologies/*.ttl".
    const matches = picomatch(pattern.replace(/^(\.\/)+/, ''), { dot: true });
    const found = shipped.filter((entry) => matches(entry.path));
    if (found.length === 0) details.push(`ontologies[${index}] ${JSON.stringify(pattern)} matched no file that ships`);
    for (const entry of found) files.set(entry.path, entry);
  }
  let triples = 0;
  for (const file of [...files.values()].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    options.signal?.throwIfAborted();
    const text = await readFile(fsPath(file.absolutePath), 'utf8');
    try {
      triples += new Parser({ format: 'text/turtle' }).parse(text).length;
    } catch (error) {
      details.push(`${printableName(file.path)}:${lineOf(error)}: ${messageOf(error)}`);
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
