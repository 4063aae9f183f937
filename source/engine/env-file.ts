import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { writeFileAtomicCommand } from '../remote/file-commands.js';
import { arg, cmd, op, quote, script } from '../remote/quote.js';
import { runChecked, type Transport } from '../remote/transport.js';

/**
 * The server's environment: the operator's env file, plus every `env.required` name that is set
 * in this process's environment and not in the file (in CI those come from the secret store as
 * variables, and the server needs them as much as what the file holds). Read synchronously: it is
 * one small local file, and the output module needs the values (to mask them) before anything runs.
 */
export function readServerEnv(
  config: Pick<Config, 'env'>,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  const values: Record<string, string> = {};
  if (config.env.file !== undefined) {
    let source: string;
    try {
      source = readFileSync(config.env.file, 'utf8');
    } catch {
      throw new DeployError('config', `env.file ${config.env.file} cannot be read.`, {
        hint: 'Create it, or remove env.file from the config.',
      });
    }
    Object.assign(values, parse(source));
  }
  for (const name of config.env.required) {
    const value = environment[name];
    if (values[name] === undefined && value !== undefined && value !== '') values[name] = value;
  }
  for (const name of Object.keys(values)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) delete values[name];
  return values;
}

/**
 * A value shorter than this ("1", "true", "prod") is not masked in output: replacing it
 * everywhere would maul ordinary text and hide nothing worth hiding.
 */
export const minMaskedLength = 6;

/** The server environment's values worth masking wherever our output shows text (a server that prints its secret). */
export function serverSecretValues(
  config: Pick<Config, 'env'>,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): string[] {
  try {
    return Object.values(readServerEnv(config, environment)).filter((value) => value.length >= minMaskedLength);
  } catch {
    // An unreadable env file fails the deploy where it is used, with its own message.
    return [];
  }
}

/**
 * The server's environment on the host, as `NAME='value'` lines, shell-quoted, so both
 * supervisors can source it with `sh` and the values never appear on a command line. (Not for
 * systemd's EnvironmentFile=, whose parser is not sh: it misreads a quoted `'`.) Null when there
 * is nothing to write.
 */
export async function renderServerEnv(
  config: Pick<Config, 'env'>,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ text: string; names: string[] } | null> {
  const values = readServerEnv(config, environment);
  const names = Object.keys(values);
  if (names.length === 0 && config.env.file === undefined) return null;
  const lines = names.map((name) => `${name}=${quote(values[name] ?? '')}`);
  return { text: `# Written by mcp-deploy: the server's environment. Mode 600; never inside a release.\n${lines.join('\n')}\n`, names };
}

/**
 * The environment files a release may run with, in order of preference: its own
 * (`shared/env/<id>.env`, written when it was deployed), then `shared/.env`, which every release
 * shared before each had its own (so a release deployed then still starts with what it had). A
 * release deployed now always has its own file, empty when the config names no environment, so
 * it never falls back.
 *
 * The one place that decides which environment a release runs with: the supervisors source it
 * at the start, and anything else that runs in a release's name (a hook) should do the same,
 * with loadEnvScript.
 */
export function envFilesFor(layout: HostLayout, release: string): readonly string[] {
  return [layout.releaseEnvFile(release), layout.envFile];
}

/** sh that loads the first of `files` that exists, exporting every name in it (`set -a`). */
export function loadEnvScript(files: readonly string[]): string {
  const branches = files.map((file, index) =>
    script(op(index === 0 ? 'if [ -f' : 'elif [ -f'), arg(file), op(']; then set -a; .'), arg(file), op('; set +a;')),
  );
  return branches.length === 0 ? ':' : `${branches.join(' ')} fi`;
}

/**
 * Writes a release's own environment file, mode 600 in a folder only the deploy user may
 * enter, through a temporary file and a rename. `text` is what renderServerEnv made (or null
 * for none: the file is then written empty, so the release never falls back to shared/.env).
 */
export async function writeReleaseEnv(transport: Transport, layout: HostLayout, release: string, text: string | null): Promise<void> {
  const write = releaseEnvWrite(layout, release, text);
  await runChecked(transport, { script: write.script }, write.what, { input: write.input, timeoutMs: 30_000 });
}

/**
 * writeReleaseEnv as a script and its stdin (the values never stand on a command line), for a
 * command that does more (the upload's publishing): the private folder, then the file through a
 * temporary one and a rename.
 */
export function releaseEnvWrite(
  layout: HostLayout,
  release: string,
  text: string | null,
): { readonly script: string; readonly input: string; readonly what: string } {
  const path = layout.releaseEnvFile(release);
  const write = writeFileAtomicCommand(path, `${path}.tmp-${randomBytes(6).toString('hex')}`, 0o600);
  return {
    script: script(cmd(['mkdir', '-p', layout.envDir]), op('&&'), cmd(['chmod', '700', layout.envDir]), op(`&& {\n${write.script}\n}`)),
    input: text ?? emptyEnv,
    what: `writing ${path}`,
  };
}

const emptyEnv = "# Written by mcp-deploy: the server's environment (none configured). Mode 600; never inside a release.\n";
