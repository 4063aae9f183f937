import { DeployError } from '../errors.js';
import { edgeHeaders } from './keys-host.js';
import type { Colour } from './colours.js';
import type { CutoverProgress } from './cutover-progress.js';
import { reloadSettleMs } from './drain.js';
import { nginxReadsInclude } from './nginx.js';
import { colourHeader } from './nginx-location-include.js';
import { waitForServing } from './served-by.js';
import type { Session } from './session.js';

/** How long the public URL may keep showing the old side after a reload before the switch counts as failed. */
const servingTimeoutMs = 15_000;

/**
 * Verify's first half: the public URL is served by the new colour. Shown by the colour nginx
 * names (the location include is in place: sessions are pinned), else by the release a health
 * route reports, else by nginx's own configuration reading the include; without any of these
 * nothing proves traffic moved, and the cutover is undone rather than trusted.
 */
export async function proveServing(
  session: Session,
  expected: { readonly colour: Colour; readonly release: string },
  /** The release the old colour runs: when it is the same one (a restart), a reported release proves nothing. */
  previous: string | null,
  progress: CutoverProgress,
  signal: AbortSignal,
  /**
   * The checks that must reach the new colour (verify's health checks through the public URL):
   * run once nginx's old workers have stopped accepting, alongside the look that goes by then.
   */
  settledCheck: (signal: AbortSignal) => Promise<void> = async () => {},
): Promise<string> {
  const { config, target } = session.context;
  const distinct = { colour: expected.colour, release: previous === expected.release ? null : expected.release };
  const look = { timeoutMs: servingTimeoutMs, signal, headers: await edgeHeaders(session.transport, target) };
  let proof = await waitForServing(target.publicUrl, config.health, distinct, look);
  // nginx's old workers go on accepting connections for a moment after a reload (longer on a
  // busy host), and would send the health checks that follow to the old colour: one look at the
  // new colour is not enough. Look again once that moment is over, and go by that look. When the
  // switch saw them stop on the host (nginx-settle.ts), that moment is already over.
  const settled = progress.settled ? 0 : (progress.switchedAt ?? 0) + reloadSettleMs - performance.now();
  if (proof.by !== 'nothing') {
    if (settled > 0) await sleep(settled);
    proof = await alongside(
      (checks) =>
        settled > 0 ? waitForServing(target.publicUrl, config.health, distinct, { ...look, signal: checks }) : Promise.resolve(proof),
      settledCheck,
      signal,
    );
  }
  progress.pinned = proof.by === 'colour';
  if (proof.by === 'colour') return `${expected.colour} answers through nginx (${colourHeader}); sessions are pinned`;
  if (proof.by === 'release') return `${expected.release} answers through nginx; sessions are not pinned`;
  const reads = await nginxReadsInclude(session.transport, target);
  if (reads !== 'yes') {
    throw new DeployError(
      'deploy',
      `Nothing shows that ${target.publicUrl} is served by ${expected.colour}: its answers name no colour, no health route reports ${distinct.release === null ? 'a release that tells the colours apart' : 'the release'}, and ${
        reads === 'no'
          ? `nginx's configuration does not read ${target.nginx.upstreamFile}`
          : 'nginx -T could not be run to check the configuration'
      }.`,
      {
        hint: `Include ${target.nginx.locationFile} in the site's location (mcp-deploy setup shows the change; it also pins sessions), or report RELEASE_ID in a health.http route.`,
      },
    );
  }
  // nginx's old workers may still answer for a moment, and nothing tells them apart: wait that out.
  if (!progress.settled) await sleep(reloadSettleMs);
  await settledCheck(signal);
  return 'nginx reads the include (the answers name neither colour nor release); sessions are not pinned';
}

/**
 * Runs `first` and `second` at once (each over its own connections: no round trip waits for the
 * other) and returns what `first` found; the first failure stops the other and is thrown.
 */
async function alongside<T>(
  first: (signal: AbortSignal) => Promise<T>,
  second: (signal: AbortSignal) => Promise<void>,
  signal: AbortSignal,
): Promise<T> {
  const stop = new AbortController();
  const both = AbortSignal.any([signal, stop.signal]);
  const stopOnFailure = <R>(running: Promise<R>) =>
    running.catch((error: unknown) => {
      stop.abort();
      throw error;
    });
  const results = await Promise.allSettled([stopOnFailure(first(both)), stopOnFailure(second(both))]);
  // The failure that came first is the cause; the other one's is only the stop it was given.
  const failed = results.find(
    (result): result is PromiseRejectedResult => result.status === 'rejected' && !isStopped(result.reason, stop.signal),
  );
  if (failed !== undefined) throw failed.reason;
  const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
  return (results[0] as PromiseFulfilledResult<T>).value;
}

function isStopped(error: unknown, stopped: AbortSignal): boolean {
  return stopped.aborted && (error === stopped.reason || (error instanceof Error && error.name === 'AbortError'));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
