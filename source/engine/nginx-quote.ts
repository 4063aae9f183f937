import { DeployError } from '../errors.js';

/**
 * A path written into nginx's configuration: quoted, so spaces are fine, but `$` would be read as
 * a variable and `"`, `\` or a line break would end the string early, so those are refused.
 */
export function nginxQuoted(path: string, key: string): string {
  if (/["\\$\n\r]/.test(path)) {
    throw new DeployError('config', `${key} cannot go into nginx's configuration as it is: ${JSON.stringify(path)}.`, {
      hint: `Set ${key} to a path without "$", quotes, backslashes or line breaks.`,
    });
  }
  return `"${path}"`;
}
