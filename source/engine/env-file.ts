import { readFile } from 'node:fs/promises';
import { parse } from 'dotenv';
import { DeployError } from '../errors.js';
import { quote } from '../remote/quote.js';

/**
 * The operator's dotenv file, rewritten for the host as `NAME='value'` lines, shell-quoted, so
 * both supervisors can source it with `sh` and the values never appear on a command line. (Not
 * for systemd's EnvironmentFile=, whose parser is not sh: it misreads a quoted `'`.)
 */
export async function renderEnvFile(file: string): Promise<{ text: string; names: string[] }> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch {
    throw new DeployError('config', `env.file ${file} cannot be read.`, { hint: 'Create it, or remove env.file from the config.' });
  }
  const values = parse(source);
  const names = Object.keys(values).filter((name) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name));
  const lines = names.map((name) => `${name}=${quote(values[name] ?? '')}`);
  return { text: `# Written by mcp-deploy from the operator's env file. Mode 600.\n${lines.join('\n')}\n`, names };
}
