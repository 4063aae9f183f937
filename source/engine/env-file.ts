import { readFile } from 'node:fs/promises';
import { parse } from 'dotenv';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import { quote } from '../remote/quote.js';

/**
 * The server's environment on the host, as `NAME='value'` lines, shell-quoted, so both
 * supervisors can source it with `sh` and the values never appear on a command line. (Not for
 * systemd's EnvironmentFile=, whose parser is not sh: it misreads a quoted `'`.)
 *
 * It holds the operator's env file, plus every `env.required` name that is set in this process's
 * environment and not in the file: in CI those come from the secret store as variables, and the
 * server needs them as much as what the file holds. Null when there is nothing to write.
 */
export async function renderServerEnv(
  config: Pick<Config, 'env'>,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ text: string; names: string[] } | null> {
  const values: Record<string, string> = {};
  if (config.env.file !== undefined) {
    let source: string;
    try {
      source = await readFile(config.env.file, 'utf8');
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
  const names = Object.keys(values).filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  if (names.length === 0 && config.env.file === undefined) return null;
  const lines = names.map((name) => `${name}=${quote(values[name] ?? '')}`);
  return { text: `# Written by mcp-deploy: the server's environment. Mode 600; never inside a release.\n${lines.join('\n')}\n`, names };
}
