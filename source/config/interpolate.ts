/**
 * `${VAR}` and `${VAR:-fallback}` in config strings, from the environment. Done on the raw JSON
 * before validation so that a port given as "${SSH_PORT}" is checked like any other value.
 * `$${` writes a literal `${`.
 */

export type InterpolationProblem = { readonly path: readonly (string | number)[]; readonly variable: string };

const reference = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(
  value: unknown,
  environment: Readonly<Record<string, string | undefined>>,
  problems: InterpolationProblem[] = [],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') return interpolateString(value, environment, problems, path);
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, environment, problems, [...path, index]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolate(item, environment, problems, [...path, key])]));
  }
  return value;
}

function interpolateString(
  text: string,
  environment: Readonly<Record<string, string | undefined>>,
  problems: InterpolationProblem[],
  path: (string | number)[],
): string | number {
  let whole: string | undefined;
  const result = text.replace(reference, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$${') return '${';
    const found = environment[name!];
    if (found !== undefined && found !== '') {
      whole = found;
      return found;
    }
    if (fallback !== undefined) {
      whole = fallback;
      return fallback;
    }
    problems.push({ path, variable: name! });
    return match;
  });
  // A value that is exactly one reference to a number ("${SSH_PORT}") becomes a number, so ports
  // can come from the environment.
  if (whole !== undefined && result === whole && /^\$\{[^}]+\}$/.test(text) && /^\d+$/.test(result)) return Number(result);
  return result;
}
