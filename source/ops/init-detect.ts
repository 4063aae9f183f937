import { existsSync, readdirSync, readFileSync, statSync, type Dirent } from 'node:fs';
import { join, posix, relative, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import { configFileNames } from '../config/load.js';
import { readGitRemote, suggestAppName } from './init-names.js';
import { nodeSignals, pythonFacts, type NodeSignals, type RuntimeFacts } from './init-project.js';

export type { RuntimeFacts } from './init-project.js';
export { appNameForFolder, readGitRemote, redactRemote, sanitizeAppName } from './init-names.js';

/**
 * What `mcp-deploy init` can learn from the repository before asking anything: where the MCP
 * server lives, how it starts, what it needs, and a name for it. Every guess carries the reason
 * it was made, so the wizard can say why it suggests what it suggests.
 */

/** A folder that looks like it holds an MCP server. Paths are '/'-separated. */
export type ServerCandidate = {
  /** Relative to the repository root; '.' for the root itself. */
  readonly folder: string;
  /** Relative to `folder`; null when nothing in it looks like the script (or built file) to run. */
  readonly entry: string | null;
  /** For python: requirements.txt or pyproject.toml; null for node, or when there is neither. */
  readonly requirements: string | null;
  /** How it runs and installs: python or node, lockfile, build. */
  readonly runtime: RuntimeFacts;
  /** Globs relative to `folder`, each matching at least one `.ttl` file. */
  readonly ontologies: readonly string[];
  /** Some Python file in the folder mentions `/health`: worth checking after a deploy. */
  readonly mentionsHealth: boolean;
  readonly score: number;
  readonly reasons: readonly string[];
};

export type Detection = {
  readonly root: string;
  /** The likeliest server, or null when no folder looks like one. */
  readonly server: ServerCandidate | null;
  /** The other candidates, likeliest first. */
  readonly others: readonly ServerCandidate[];
  /** `origin`'s URL with any credentials taken out, or null. */
  readonly gitRemote: string | null;
  readonly app: string;
  readonly appReason: string;
  /** Config file names already present in the root. */
  readonly existingConfigs: readonly string[];
};

/** Never looked into: version control, caches, environments and build output hold no server of ours. */
const skippedFolders = new Set(['node_modules', '__pycache__', 'venv', 'env', 'site-packages', 'dist', 'build']);
const preferredEntries = ['server.py', 'main.py', 'app.py', '__main__.py'];
const maxDepth = 4;
const maxEntriesVisited = 20_000;
/** A source file larger than this is data, not a server script. */
const maxScriptBytes = 512 * 1024;

type FileSignals = {
  readonly name: string;
  readonly score: number;
  readonly reasons: readonly string[];
  readonly mentionsHealth: boolean;
  readonly looksLikeServer: boolean;
};

/** Scans `root` (bounded depth, skipping hidden, vendored and cache folders) and makes its guesses. */
export async function detectProject(root: string): Promise<Detection> {
  const absoluteRoot = resolve(root);
  const candidates = scanForServers(absoluteRoot);
  const gitRemote = await readGitRemote(absoluteRoot);
  const server = candidates[0] ?? null;
  const { app, appReason } = suggestAppName(absoluteRoot, server?.folder ?? null, gitRemote);
  return {
    root: absoluteRoot,
    server,
    others: candidates.slice(1),
    gitRemote,
    app,
    appReason,
    existingConfigs: configFileNames.filter((name) => existsSync(join(absoluteRoot, name))),
  };
}

/** One folder's facts, for a folder named by hand (`--source`, or a changed answer in the wizard). */
export function inspectFolder(root: string, folder: string): ServerCandidate {
  const absolute = resolve(root, folder);
  const files = pythonFilesIn(absolute).map((name) => readSignals(absolute, name));
  const python = candidateFor(resolve(root), absolute, files);
  // A package.json with an MCP SDK, or one with no Python server beside it, makes it a node project.
  const node = nodeSignals(absolute);
  if (node !== null && (node.isServer || python.entry === null) && node.score >= python.score)
    return nodeCandidate(resolve(root), absolute, node);
  return python;
}

function nodeCandidate(root: string, folder: string, node: NodeSignals): ServerCandidate {
  const { globs, count } = turtleGlobs(folder);
  const reasons = [...node.reasons, ...(count > 0 ? [`${count} Turtle file${count === 1 ? '' : 's'} (${globs.join(', ')})`] : [])];
  return {
    folder: toPosix(relative(root, folder)) || '.',
    entry: node.facts.entry,
    requirements: null,
    runtime: node.facts,
    ontologies: globs,
    mentionsHealth: mentionsHealth(folder, node.facts.entry),
    score: node.score,
    reasons,
  };
}

/** The node entry's source, or its TypeScript source before a build, mentions /health. */
function mentionsHealth(folder: string, entry: string | null): boolean {
  const candidates = entry === null ? [] : [entry, entry.replace(/^(dist|build|out|lib)\//, 'src/').replace(/\.[cm]?js$/, '.ts')];
  return candidates.some((path) => /\/health\b/.test(readText(join(folder, path))));
}

function scanForServers(root: string): ServerCandidate[] {
  const found: ServerCandidate[] = [];
  let visited = 0;
  const walk = (folder: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return; // unreadable: not ours to report
    }
    visited += entries.length;
    const signals = entries
      .filter((entry) => entry.isFile() && isServerScriptName(entry.name))
      .map((entry) => readSignals(folder, entry.name));
    if (signals.some((file) => file.looksLikeServer)) found.push(candidateFor(root, folder, signals));
    const node = entries.some((entry) => entry.isFile() && entry.name === 'package.json') ? nodeSignals(folder) : null;
    if (node?.isServer) found.push(nodeCandidate(root, folder, node));
    if (depth >= maxDepth) return;
    for (const entry of entries) {
      if (visited > maxEntriesVisited) return;
      if (entry.isDirectory() && !isSkippedFolder(entry.name)) walk(join(folder, entry.name), depth + 1);
    }
  };
  walk(root, 0);
  // Likeliest first; between equals, the shallower folder (a repo's own server before a vendored copy).
  return found.sort((a, b) => b.score - a.score || depthOf(a.folder) - depthOf(b.folder) || a.folder.localeCompare(b.folder));
}

function candidateFor(root: string, folder: string, files: readonly FileSignals[]): ServerCandidate {
  const ranked = files
    .filter((file) => file.looksLikeServer)
    .sort((a, b) => b.score - a.score || entryRank(a.name) - entryRank(b.name) || a.name.localeCompare(b.name));
  const entry = ranked[0] ?? null;
  const reasons: string[] = [];
  let score = entry?.score ?? 0;
  if (entry !== null) reasons.push(`${entry.name}: ${entry.reasons.join(', ')}`);
  const runtime = pythonFacts(folder);
  const { requirements } = runtime;
  if (requirements !== null) {
    const mentionsMcp =
      /^\s*(mcp|fastmcp)\b/im.test(readText(join(folder, requirements))) ||
      /["'](mcp|fastmcp)\b/i.test(readText(join(folder, requirements)));
    if (mentionsMcp) score += 1;
    if (requirements === 'requirements.txt') reasons.push(mentionsMcp ? 'requirements.txt lists mcp' : 'requirements.txt found');
    else
      reasons.push(
        `pyproject.toml${mentionsMcp ? ' depends on mcp' : ''}: its dependencies go into a cached venv${runtime.uvLock ? ' (from uv.lock where the host has uv)' : ''}`,
      );
  }
  const { globs, count } = turtleGlobs(folder);
  if (count > 0) reasons.push(`${count} Turtle file${count === 1 ? '' : 's'} (${globs.join(', ')})`);
  const folderPath = toPosix(relative(root, folder)) || '.';
  return {
    folder: folderPath,
    entry: entry?.name ?? null,
    requirements,
    runtime,
    ontologies: globs,
    mentionsHealth: files.some((file) => file.mentionsHealth),
    score,
    reasons,
  };
}

/** What one Python file says about itself. Only the MCP markers make a file a server by content. */
function readSignals(folder: string, name: string): FileSignals {
  const text = readText(join(folder, name));
  const reasons: string[] = [];
  let score = 0;
  const mark = (test: boolean, points: number, reason: string) => {
    if (test) {
      score += points;
      reasons.push(reason);
    }
  };
  mark(/^\s*(from\s+mcp[\s.]|import\s+mcp\b)/m.test(text), 4, 'imports mcp');
  mark(/\bFastMCP\b|^\s*(from|import)\s+fastmcp\b/m.test(text), 4, 'uses FastMCP');
  mark(/\/mcp\b/.test(text), 2, 'serves "/mcp"');
  mark(/tools\/list/.test(text), 2, 'handles "tools/list"');
  const byContent = score > 0;
  const byName = name === 'server.py' || name === 'main.py';
  mark(byName, 1, `named ${name}`);
  mark(/if\s+__name__\s*==\s*['"]__main__['"]/.test(text), 1, 'runs as a script');
  return { name, score, reasons, mentionsHealth: /\/health\b/.test(text), looksLikeServer: byContent || byName };
}

/** Turtle files under `folder`, as one glob per folder that holds some (all of them past ten folders). */
function turtleGlobs(folder: string): { globs: string[]; count: number } {
  const files = globSync('**/*.ttl', {
    cwd: folder,
    onlyFiles: true,
    followSymbolicLinks: false,
    deep: maxDepth + 1,
    ignore: ['**/node_modules/**', '**/.*/**', '**/__pycache__/**'],
  });
  const dirs = [...new Set(files.map((file) => posix.dirname(toPosix(file))))].sort();
  if (dirs.length > 10) return { globs: ['**/*.ttl'], count: files.length };
  return { globs: dirs.map((dir) => (dir === '.' ? '*.ttl' : `${dir}/*.ttl`)), count: files.length };
}

function pythonFilesIn(folder: string): string[] {
  try {
    return readdirSync(folder, { withFileTypes: true })
      .filter((entry) => entry.isFile() && isServerScriptName(entry.name))
      .map((entry) => entry.name);
  } catch {
    return [];
  }
}

/** Test files import mcp too, but are never the thing to run. */
function isServerScriptName(name: string): boolean {
  return name.endsWith('.py') && !/^test_|_test\.py$|^conftest\.py$|^setup\.py$/.test(name);
}

function isSkippedFolder(name: string): boolean {
  return name.startsWith('.') || skippedFolders.has(name) || name === 'tests' || name === 'test';
}

/**
 * Whether a local answer points at something real: the source folder, the entry and requirements
 * inside it, and ontology globs that each match a file. Null when it does.
 */
export function localAnswerProblem(
  root: string,
  field: 'source' | 'entry' | 'requirements' | 'ontologies',
  answers: { readonly source: string; readonly value: string },
): string | null {
  const source = resolve(root, answers.source);
  if (field === 'source') return isDirectory(source) ? null : `no folder ${answers.source} here`;
  if (!isDirectory(source)) return null; // the source answer carries the problem
  if (field === 'ontologies') {
    for (const pattern of splitList(answers.value)) {
      const matches = globSync(pattern, { cwd: source, onlyFiles: true, followSymbolicLinks: false, expandDirectories: false, dot: true });
      if (matches.length === 0) return `${pattern} matches no file in ${answers.source}`;
    }
    return null;
  }
  if (answers.value === '') return null;
  const file = resolve(source, answers.value);
  if (isFile(file)) return null;
  // A TypeScript server's entry is made by its build: it need not exist before the first one.
  const build = field === 'entry' ? nodeSignals(source)?.facts.build : undefined;
  if (build && answers.value.replace(/^\.\//, '').startsWith(`${build.output}/`)) return null;
  return `no file ${answers.value} in ${answers.source}`;
}

/** `a, b,c` → ['a', 'b', 'c']: how lists are typed in one line. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readText(file: string): string {
  try {
    if (statSync(file).size > maxScriptBytes) return '';
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function entryRank(name: string): number {
  const index = preferredEntries.indexOf(name);
  return index === -1 ? preferredEntries.length : index;
}

function depthOf(folder: string): number {
  return folder === '.' ? 0 : folder.split('/').length;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}
