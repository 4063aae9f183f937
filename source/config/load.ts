import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import type { z } from 'zod';
import { DeployError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { fleetHostsOf, type FleetHost } from './fleet.js';
import { interpolate, type InterpolationProblem } from './interpolate.js';
import { configSchema, describeValue, type ParsedConfig, type ParsedTarget } from './schema.js';

export const configFileNames = ['.mcpdeployrc', '.mcpdeployrc.json'] as const;

export type Target = Omit<ParsedTarget, 'nginx' | 'hosts'> & {
  readonly name: string;
  readonly nginx: ParsedTarget['nginx'] & {
    readonly upstreamFile: string;
    readonly upstream: string;
    readonly locationFile: string;
    readonly sessionLog: string;
    /** API keys at the edge (auth.apiKeys): the include holding the accepted keys, and the paths open without one; null when off. */
    readonly auth: EdgeAuth | null;
  };
  /** A fleet's hosts (config/fleet.ts), each a complete one-host target; absent for one host. */
  readonly fleet?: readonly FleetHost<Target>[];
};

export type EdgeAuth = { readonly keysFile: string; readonly openPaths: readonly string[] };

/** A validated config with every local path made absolute. */
export type Config = Omit<ParsedConfig, 'targets' | 'source' | 'env'> & {
  /** The file it was read from. */
  readonly file: string;
  /** Absolute path of the folder to ship. */
  readonly source: string;
  readonly env: { readonly required: readonly string[]; readonly file?: string };
  readonly targets: Readonly<Record<string, Target>>;
};

export function findConfigFile(explicit: string | undefined, cwd = process.cwd()): string {
  if (explicit !== undefined) {
    const file = resolve(cwd, explicit);
    if (!existsSync(file)) throw new DeployError('config', `Config file not found: ${explicit}`, { hint: 'Check the --config path.' });
    return file;
  }
  for (const name of configFileNames) {
    const file = join(cwd, name);
    if (existsSync(file)) return file;
  }
  throw new DeployError('config', `No ${configFileNames.join(' or ')} in ${cwd}.`, {
    hint: 'Create one from .mcpdeployrc.example (docs/config.md documents every key), or pass --config FILE.',
  });
}

export function loadConfig(
  options: { file?: string; cwd?: string; environment?: Readonly<Record<string, string | undefined>> } = {},
): Config {
  const file = findConfigFile(options.file, options.cwd);
  return parseConfig(readFileSync(file, 'utf8'), file, options.environment ?? process.env);
}

export function parseConfig(text: string, file: string, environment: Readonly<Record<string, string | undefined>>): Config {
  // JSON, with comments and trailing commas allowed so the file can explain itself.
  const errors: ParseError[] = [];
  const raw: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  const firstError = errors[0];
  if (firstError !== undefined) {
    const { line, column } = lineAndColumn(text, firstError.offset);
    throw new DeployError('config', `${file}:${line}:${column}: not valid JSON: ${printParseErrorCode(firstError.error)}`);
  }
  const problems: InterpolationProblem[] = [];
  const interpolated = interpolate(raw, environment, problems);
  if (problems.length > 0) {
    const lines = problems.map((problem) => `${file}: ${formatPath(problem.path)}: \${${problem.variable}} is not set in the environment`);
    throw new DeployError('config', lines.join('\n'), { hint: 'Export the variable, or give a fallback with ${NAME:-value}.' });
  }
  const result = configSchema.safeParse(interpolated, { reportInput: true });
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `${file}: ${formatIssue(issue)}`);
    throw new DeployError('config', lines.join('\n'), { hint: 'docs/config.md documents every key.' });
  }
  return resolveConfig(result.data, file);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function resolveConfig(parsed: ParsedConfig, file: string): Config {
  const base = dirname(file);
  const targets = Object.fromEntries(
    Object.entries(parsed.targets).map(([name, parsedTarget]) => {
      const { hosts, ...target } = parsedTarget;
      const path = isAbsolute(target.path) ? target.path : resolve(base, target.path);
      const nginxAt = (root: string, nginx: Partial<Target['nginx']>): Target['nginx'] => ({
        ...target.nginx,
        ...nginx,
        upstream: nginx.upstream ?? `mcp_${parsed.app.replace(/[^A-Za-z0-9_]/g, '_')}`,
        upstreamFile: nginx.upstreamFile ?? `${root}/nginx-upstream.conf`,
        locationFile: nginx.locationFile ?? `${root}/nginx-location.conf`,
        sessionLog: nginx.sessionLog ?? `${root}/shared/logs/nginx-sessions.log`,
        // The keys file lives with each host's deploy root, as the includes do.
        auth: parsed.auth.apiKeys ? { keysFile: `${root}/nginx-keys.conf`, openPaths: parsed.auth.openPaths } : null,
      });
      const explicit = definedOnly({
        upstream: target.nginx.upstream,
        upstreamFile: target.nginx.upstreamFile,
        locationFile: target.nginx.locationFile,
        sessionLog: target.nginx.sessionLog,
      });
      const resolved: Target = { ...target, name, path, nginx: nginxAt(path, explicit) };
      return [name, hosts === undefined ? resolved : { ...resolved, fleet: fleetHostsOf(resolved, hosts, nginxAt, explicit) }];
    }),
  );
  return {
    ...parsed,
    file,
    source: resolve(base, parsed.source),
    env: { required: parsed.env.required, ...(parsed.env.file === undefined ? {} : { file: resolve(base, parsed.env.file) }) },
    targets,
  };
}

function definedOnly<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

/** `--target NAME`, else the one marked default, else the only one. */
export function selectTarget(config: Config, name: string | undefined): Target {
  const names = Object.keys(config.targets);
  if (name !== undefined) {
    const target = config.targets[name];
    if (target) return target;
    const guess = didYouMean(name, names);
    throw new DeployError('usage', `No target "${name}" in ${config.file}.${guess ? ` Did you mean "${guess}"?` : ''}`, {
      hint: `Targets: ${names.join(', ')}.`,
    });
  }
  const defaults = names.filter((candidate) => config.targets[candidate]?.default);
  if (defaults.length > 1) {
    throw new DeployError('config', `${config.file}: targets ${defaults.join(', ')} are all marked "default"; mark one.`);
  }
  const chosen = defaults[0] ?? (names.length === 1 ? names[0] : undefined);
  if (chosen === undefined) {
    throw new DeployError('usage', `${config.file} has several targets (${names.join(', ')}) and none is marked "default".`, {
      hint: 'Pass --target NAME, or set "default": true on one target.',
    });
  }
  return config.targets[chosen]!;
}

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(top level)';
  return path
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`))
    .join('');
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path);
  // A message the schema wrote itself (ports, paths) says more than the generic one.
  if (!issue.message.startsWith('Invalid') && issue.code !== 'unrecognized_keys') return `${where}: ${issue.message}`;
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys
        .map((key) => {
          const guess = didYouMean(key, knownKeysAt(issue.path));
          const path = formatPath([...issue.path, key]);
          return `${path}: unknown key${guess ? `; did you mean "${guess}"?` : ''}`;
        })
        .join(`\n`);
    case 'invalid_type':
      if (issue.input === undefined) return `${where}: is required (expected ${issue.expected})`;
      return `${where}: expected ${issue.expected}, got ${describeValue(issue.input)}`;
    case 'invalid_value':
      return `${where}: expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, got ${describeValue(issue.input)}`;
    default:
      return `${where}: ${issue.message}`;
  }
}

/** Key names valid at a path of the schema, for did-you-mean on unknown keys. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let node: unknown = configSchema;
  for (const segment of path) {
    node = unwrap(node);
    const def = (node as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (def['type'] === 'object') node = (def['shape'] as Record<string, unknown>)[String(segment)];
    else if (def['type'] === 'record') node = def['valueType'];
    else if (def['type'] === 'array') node = def['element'];
    else return [];
  }
  const def = (unwrap(node) as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  return def?.['type'] === 'object' ? Object.keys(def['shape'] as object) : [];
}

function unwrap(node: unknown): unknown {
  let current = node;
  for (let depth = 0; depth < 10; depth += 1) {
    const def = (current as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (def && (def['type'] === 'default' || def['type'] === 'optional' || def['type'] === 'nullable')) current = def['innerType'];
    else if (def && def['type'] === 'pipe') current = def['in'];
    else return current;
  }
  return current;
}
