/** What kind of output this run can use, decided once at start. */
export type Face = 'app' | 'plain';

export function wantsColor(stream: NodeJS.WriteStream): boolean {
  if ('NO_COLOR' in process.env && process.env['NO_COLOR'] !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

/** The Ink app needs a terminal on both ends and nobody asking for machine output. */
export function chooseFace(options: { yes: boolean; json: boolean }): Face {
  const ci = process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false' && process.env['CI'] !== '0';
  if (options.yes || options.json || ci) return 'plain';
  if (!process.stdin.isTTY || !process.stdout.isTTY) return 'plain';
  return 'app';
}
