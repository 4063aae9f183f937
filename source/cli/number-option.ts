import { DeployError } from '../errors.js';

/** A whole-number option (`--lines 20`), refused with a usage error rather than guessed at when it is not one. */
export function wholeNumberOption(
  flag: string,
  text: string | undefined,
  fallback: number,
  options: { readonly min?: number } = {},
): number {
  if (text === undefined) return fallback;
  const min = options.min ?? 1;
  const value = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new DeployError('usage', `${flag} expects a whole number of at least ${min}, got ${JSON.stringify(text)}.`);
  }
  return value;
}
