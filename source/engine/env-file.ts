import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import { quote } from '../remote/quote.js';

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
