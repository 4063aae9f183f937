/**
 * What this process may assume about its terminal, decided in one place: whether it runs in CI,
 * whether colours are wanted, and whether the Ink app can be its face.
 */

export type Face = 'app' | 'plain';

type Environment = Readonly<Record<string, string | undefined>>;

/** `CI` set to anything but "", "false" or "0". The one reading of CI in the codebase. */
export function inCi(environment: Environment = process.env): boolean {
  const value = environment['CI'];
  return value !== undefined && value !== '' && value !== 'false' && value !== '0';
}

/**
 * Colour on a stream: never with --no-color or NO_COLOR (any non-empty value); always with
 * FORCE_COLOR (but "0"); otherwise only on a terminal, and not in CI (a CI log keeps its escape
 * codes as noise unless FORCE_COLOR asks for them).
 */
export function wantsColor(
  stream: { readonly isTTY?: boolean },
  flag: boolean | undefined = undefined,
  environment: Environment = process.env,
): boolean {
  if (flag === false) return false;
  if ('NO_COLOR' in environment && environment['NO_COLOR'] !== '') return false;
  if (environment['FORCE_COLOR'] !== undefined && environment['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true && !inCi(environment) && environment['TERM'] !== 'dumb';
}

/** The Ink app needs a terminal on both ends, no CI, and nobody asking for machine output. */
export function chooseFace(options: { yes: boolean; json: boolean }, environment: Environment = process.env): Face {
  if (options.yes || options.json || inCi(environment)) return 'plain';
  if (!process.stdin.isTTY || !process.stdout.isTTY) return 'plain';
  return 'app';
}

/** Whether a person can be asked (the host-key question): a terminal, no CI, no --yes. */
export function canAsk(options: { yes?: boolean }, environment: Environment = process.env): boolean {
  return !options.yes && !inCi(environment) && process.stdin.isTTY === true && process.stderr.isTTY === true;
}
