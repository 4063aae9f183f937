import { z } from 'zod';

/** Schema pieces every part of the config uses: ports, non-empty strings, host commands. */

export const port = z
  .number({ error: (issue) => `expected a port 1-65535, got ${describeValue(issue.input)}` })
  .int({ error: (issue) => `expected a port 1-65535, got ${describeValue(issue.input)}` })
  .min(1, { error: (issue) => `expected a port 1-65535, got ${describeValue(issue.input)}` })
  .max(65535, { error: (issue) => `expected a port 1-65535, got ${describeValue(issue.input)}` });

export const nonEmpty = z.string().min(1, 'must not be empty');

/** A host command: a string run by `sh -c`, or an argument array run as it is. */
export const hostCommand = z.union([nonEmpty, z.array(z.string()).min(1, 'needs at least the program name')]);

/** How a wrong value is named in a message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
