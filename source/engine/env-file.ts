import { readFile } from 'node:fs/promises';
import { parse } from 'dotenv';
import { DeployError } from '../errors.js';
import { quote } from '../remote/quote.js';

/**
 * The operator's dotenv file, rewritten for the host as `NAME='value'` lines: a form that
 * `sh` can source for the process supervisor and systemd's EnvironmentFile reads, so the values
 * never have to appear on a command line.
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
