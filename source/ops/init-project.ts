import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse as parseJsonc } from 'jsonc-parser';
import { nodeLockfiles, type PackageManager } from '../project/install-files.js';

/**
 * What `init` learns about how a folder's server runs and installs: a Node project (package.json,
 * its lockfile, the MCP SDK among its dependencies, TypeScript with a build script) or a Python
 * one (requirements.txt, or pyproject.toml with or without uv.lock). Every finding comes with the
 * words that say why.
 */

export type RuntimeFacts =
  | {
      readonly type: 'python';
      /** `requirements.txt`, `pyproject.toml`, or null for neither. */
      readonly requirements: string | null;
      readonly uvLock: boolean;
    }
  | {
      readonly type: 'node';
      readonly lockfile: string | null;
      readonly manager: PackageManager;
      /** The file node runs, relative to the folder; null when nothing says. */
      readonly entry: string | null;
      /** The build that makes `entry` (TypeScript), and the folder it writes, or null. */
      readonly build: { readonly command: string; readonly output: string } | null;
    };

export type NodeSignals = {
  readonly facts: Extract<RuntimeFacts, { type: 'node' }>;
  readonly score: number;
  readonly reasons: readonly string[];
  /** An MCP SDK is among the dependencies: this is a server, not some other package. */
  readonly isServer: boolean;
};

/** Packages whose presence says "an MCP server": the official SDKs (v1 and v2) and the common frameworks on them. */
const mcpPackages = ['@modelcontextprotocol/server', '@modelcontextprotocol/sdk', 'fastmcp', 'mcp-framework', 'mcp-handler'] as const;
const buildFolders = ['dist', 'build', 'out', 'lib'] as const;

/** A Node project's facts, or null when the folder has no readable package.json. */
export function nodeSignals(folder: string): NodeSignals | null {
  const pkg = readJson(join(folder, 'package.json'));
  if (pkg === null) return null;
  const reasons: string[] = [];
  let score = 0;
  const dependencies = { ...record(pkg['dependencies']), ...record(pkg['devDependencies']) };
  const sdk = mcpPackages.find((name) => name in dependencies);
  if (sdk !== undefined) {
    score += 4;
    reasons.push(`package.json depends on ${sdk}`);
  }
  const lock = nodeLockfiles.find((candidate) => existsSync(join(folder, candidate.name)));
  reasons.push(lock ? `${lock.name}: ${lock.manager} installs it` : 'no lockfile (run npm install and commit package-lock.json)');
  const manager: PackageManager = lock?.manager ?? 'npm';
  const scripts = record(pkg['scripts']);
  const tsconfig = existsSync(join(folder, 'tsconfig.json')) ? readJson(join(folder, 'tsconfig.json')) : null;
  const outDir = tsconfig === null ? null : relative(String(record(tsconfig['compilerOptions'])['outDir'] ?? '')) || null;
  const entry = entryOf(pkg, scripts, folder, outDir);
  if (entry !== null) {
    score += 1;
    reasons.push(`runs ${entry}`);
  }
  let build: { command: string; output: string } | null = null;
  const output =
    entry === null
      ? outDir
      : (buildFolders.find((name) => entry.startsWith(`${name}/`)) ?? (outDir && entry.startsWith(`${outDir}/`) ? outDir : null));
  if (output !== null && (typeof scripts['build'] === 'string' || tsconfig !== null)) {
    const command = typeof scripts['build'] === 'string' ? runScript(manager, 'build') : 'npx tsc -p .';
    build = { command, output };
    reasons.push(`${tsconfig !== null ? 'TypeScript, ' : ''}built by ${command} into ${output}/`);
  }
  return { facts: { type: 'node', lockfile: lock?.name ?? null, manager, entry, build }, score, reasons, isServer: sdk !== undefined };
}

/** A Python folder's install facts: requirements.txt first (as the python runtime reads it), else pyproject.toml. */
export function pythonFacts(folder: string): Extract<RuntimeFacts, { type: 'python' }> {
  const requirements = isFile(join(folder, 'requirements.txt'))
    ? 'requirements.txt'
    : isFile(join(folder, 'pyproject.toml'))
      ? 'pyproject.toml'
      : null;
  return { type: 'python', requirements, uvLock: isFile(join(folder, 'uv.lock')) };
}

/** The file node runs: package.json's `main`, the file its start script runs, its `bin`, or the usual names. */
function entryOf(pkg: Record<string, unknown>, scripts: Record<string, unknown>, folder: string, outDir: string | null): string | null {
  const script = /(?:^|\s)node\s+(?:--\S+\s+)*(\S+\.[cm]?js)\b/.exec(String(scripts['start'] ?? ''))?.[1];
  const bin = typeof pkg['bin'] === 'string' ? pkg['bin'] : Object.values(record(pkg['bin'])).find((value) => typeof value === 'string');
  for (const candidate of [pkg['main'], script, bin]) {
    if (typeof candidate === 'string' && /\.[cm]?js$/.test(candidate)) return relative(candidate);
  }
  for (const name of ['index.js', 'server.js', 'index.mjs', 'server.mjs']) if (isFile(join(folder, name))) return name;
  return outDir === null ? null : `${outDir}/index.js`;
}

function runScript(manager: PackageManager, name: string): string {
  return manager === 'yarn' ? `yarn ${name}` : `${manager} run ${name}`;
}

function relative(path: string): string {
  const cleaned = posix
    .normalize(path.replace(/\\/g, '/'))
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  return cleaned === '.' ? '' : cleaned;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    if (statSync(file).size > 1024 * 1024) return null;
    const value: unknown = parseJsonc(readFileSync(file, 'utf8'), [], { allowTrailingComma: true });
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
