import { readFile } from 'node:fs/promises';
import { parse } from 'dotenv';
import type { Config } from '../config/load.js';
import { StepFailure, StepSkipped } from '../run/step.js';

/**
 * Reads `env.file` (dotenv syntax). Values are secrets: callers pass them to the server's
 * environment and nowhere else; never into an event, message or log.
 */
export async function readEnvFile(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StepFailure(
      code === 'ENOENT' ? `env.file ${file} does not exist.` : `env.file ${file} cannot be read (${code ?? 'error'}).`,
      [],
      { hint: 'Create it, or fix "env.file" in the config file.' },
    );
  }
  return parse(text);
}

/**
 * Every `env.required` name must be set, in the process environment or in `env.file`. Reports
 * the missing NAMES only. An empty value counts as missing: an empty secret is a mistake far more
 * often than a choice.
 */
export async function checkEnv(
  config: Pick<Config, 'env'>,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ required: number; fromFile: number }> {
  const fileValues = config.env.file === undefined ? {} : await readEnvFile(config.env.file);
  if (config.env.required.length === 0) {
    throw new StepSkipped(config.env.file === undefined ? 'no "env.required" configured' : `env.file read; no "env.required" configured`);
  }
  // hasOwn: a variable named like an Object.prototype member ("constructor") must not look set.
  const valueIn = (values: Readonly<Record<string, string | undefined>>, name: string) =>
    Object.hasOwn(values, name) ? (values[name] ?? '') : '';
  const isSet = (name: string) => valueIn(fileValues, name) !== '' || valueIn(environment, name) !== '';
  const missing = config.env.required.filter((name) => !isSet(name));
  if (missing.length > 0) {
    const where = config.env.file === undefined ? 'the environment' : `the environment or ${config.env.file}`;
    throw new StepFailure(
      `${missing.length === 1 ? 'A required variable is' : `${missing.length} required variables are`} not set: ${missing.join(', ')}.`,
      missing.map((name) => `${name} is not set (or empty) in ${where}`),
      {
        hint:
          config.env.file === undefined ? 'Export them, or list them in an env.file.' : `Export them, or add them to ${config.env.file}.`,
      },
    );
  }
  return { required: config.env.required.length, fromFile: config.env.required.filter((name) => Object.hasOwn(fileValues, name)).length };
}
