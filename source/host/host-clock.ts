import { DeployError } from '../errors.js';
import { runChecked, type Transport } from '../remote/transport.js';

/**
 * The host's clock. Release ids, lock ages and "how old is this upload" all use it and never the
 * operator's clock: two operators whose laptops disagree about the time must still agree about
 * which release is newest and whether a lock is stale.
 */

export type HostTime = {
  /** Seconds since the epoch, on the host. */
  readonly epochSeconds: number;
  /** `YYYYMMDDTHHMMSSZ`, the time part of a release id. */
  readonly stamp: string;
  /** ISO 8601 in UTC, for JSON files and messages. */
  readonly iso: string;
};

/** One round trip: `date -u +%s`; everything else is formatted here from that one number. */
export async function hostNow(transport: Transport): Promise<HostTime> {
  const result = await runChecked(transport, ['date', '-u', '+%s'], `Reading the clock of ${transport.label}`, { timeoutMs: 30_000 });
  return hostTimeFromEpoch(parseEpoch(result.stdout, transport.label));
}

export function hostTimeFromEpoch(epochSeconds: number): HostTime {
  const iso = new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { epochSeconds, iso, stamp: iso.replace(/[-:]/g, '') };
}

/** A line of `date +%s` output as a number; anything else means the host is not what we expect. */
export function parseEpoch(text: string, hostLabel: string): number {
  const trimmed = text.trim();
  if (!/^\d{1,12}$/.test(trimmed)) {
    throw new DeployError(
      'host-state',
      `Could not read the clock of ${hostLabel}: "date -u +%s" printed ${JSON.stringify(trimmed.slice(0, 80))}.`,
      {
        hint: 'mcp-deploy needs a POSIX shell with a date command that supports +%s (GNU, BusyBox and BSD all do).',
      },
    );
  }
  return Number(trimmed);
}

/**
 * A sh function, `mtime PATH`, printing a path's modification time in epoch seconds: GNU stat,
 * then BSD stat. Scripts that judge an age on the host define it and compare with `date -u +%s`
 * from the same script, so both numbers come from the host's clock.
 */
export const mtimeShellFunction = `mtime() { stat -c %Y -- "$1" 2>/dev/null || stat -f %m -- "$1" 2>/dev/null || echo -; }`;
