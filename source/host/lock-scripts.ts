import { splitCatOutput } from '../remote/file-commands.js';
import { arg, command, op, script, type ScriptPart } from '../remote/quote.js';
import type { RemoteCommand, RunResult, Script } from '../remote/transport.js';
import { mtimeShellFunction } from './host-clock.js';
import type { HostLayout } from './layout.js';
import { heldReport, parseHeldReport, type LockStatus } from './lock-status.js';

/**
 * The shell the lock's commands share (lock.ts), and how their answers read: whether the lock
 * still carries a run's token, a command that runs only when it does, the release, and the
 * answer of the command that takes the lock and reads what the run needs first.
 */

/** Shell: succeeds when the lock's info.json still carries `token`. */
export function stillOurs(layout: HostLayout, token: string): ScriptPart[] {
  if (!/^[0-9a-f]{8,64}$/.test(token)) throw new Error(`not a lock token: ${JSON.stringify(token)}`);
  return [op('grep -F -q -e'), arg(`"token":"${token}"`), op('--'), arg(layout.lockInfo), op('2>/dev/null')];
}

/** The exit code of a command given withLockCheck when the lock was not ours: it did not run. */
const lockCheckExit = 97;
/** The first line such a command prints then (a command's own output never starts with it). */
export const lockCheckMarker = 'mcp-deploy-lock-not-ours';

/**
 * `remote`, run only once the host has confirmed, in the same shell, that the lock still carries
 * `token` (its heartbeat is touched then, as by refreshLock). When it does not, nothing of
 * `remote` runs: the command exits lockCheckExit after the marker and what holds the lock now,
 * which lockCheckFailure reads. The check costs no round trip of its own.
 */
export function withLockCheck(layout: HostLayout, token: string, remote: RemoteCommand): Script {
  const body = 'script' in remote ? `{ ${remote.script}\n}` : command(remote as readonly string[]);
  return {
    script: script(
      op(mtimeShellFunction),
      op('; if'),
      ...stillOurs(layout, token),
      op('&& : >'),
      arg(layout.lockHeartbeat),
      op("; then :; else printf '%s\\n'"),
      arg(lockCheckMarker),
      op('; ('),
      ...heldReport(layout),
      op(`printf 'free\\n'; ); exit ${lockCheckExit}; fi;\n`),
      op(body),
    ),
  };
}

/** What holds the lock now when `result` is of a withLockCheck command whose check failed; null when the command ran. */
export function lockCheckFailure(
  result: RunResult,
  stale: { localHostName: string; staleMinutes?: number; machine?: string | undefined },
): LockStatus | null {
  if (result.code !== lockCheckExit || !result.stdout.startsWith(`${lockCheckMarker}\n`)) return null;
  return parseHeldReport(result.stdout.slice(lockCheckMarker.length + 1), stale);
}

/** Shell printing `released`, `not-held` or `not-ours` (and ending the script): releaseLock's check and removal. */
export function releaseLockScript(layout: HostLayout, expectedToken: string): ScriptPart[] {
  return [
    op('[ -d'),
    arg(layout.lockDir),
    op("] || { printf 'not-held\\n'; exit 0; };"),
    op('if'),
    ...stillOurs(layout, expectedToken),
    op('; then rm -rf --'),
    arg(layout.lockDir),
    op("&& printf 'released\\n'; else printf 'not-ours\\n'; fi"),
  ];
}

export type Acquired = {
  readonly epoch: number;
  readonly iso: string;
  readonly taken: ReadonlySet<string>;
  readonly files: ReadonlyMap<string, Buffer | null>;
};

/** `acquired EPOCH ISO`, then `taken ID` lines, then `files` and the files as catFiles prints them. */
export function parseAcquired(output: Buffer, paths: readonly string[]): Acquired {
  const taken = new Set<string>();
  let at = 0;
  let epoch: number | undefined;
  let iso: string | undefined;
  for (;;) {
    const newline = output.indexOf(0x0a, at);
    if (newline === -1) throw new Error('it ends early');
    const [word, first, second] = output.subarray(at, newline).toString('utf8').split(' ');
    at = newline + 1;
    if (word === 'acquired' && first !== undefined && second !== undefined && /^\d+$/.test(first)) {
      epoch = Number(first);
      iso = second;
    } else if (word === 'taken' && first !== undefined) taken.add(first);
    else if (word === 'files') break;
    else throw new Error(`unexpected line ${JSON.stringify(word)}`);
  }
  if (epoch === undefined || iso === undefined) throw new Error('it names no time');
  return { epoch, iso, taken, files: splitCatOutput(output, paths, at) };
}
