import type { Transport } from '../remote/transport.js';
import type { Colour } from './colours.js';
import { liveSessions, SessionLogReader } from './session-log.js';

/**
 * The session drain: after a switch, the old colour keeps serving the sessions it issued, and is
 * retired once they have gone quiet (no request with its tag for `idleMs`) or `maxMs` after the
 * switch, whichever comes first. Read from nginx's session log, whose times are the host's.
 * A stop asked for (Ctrl-C) ends the wait at once: the deploy itself is done.
 */

export type SessionDrainOutcome = {
  /**
   * `blind`: the log showed no request to the new colour since the switch (verify's own went
   * there), so nginx does not write it for this site: it cannot tell when sessions end.
   */
  readonly ended: 'quiet' | 'bound' | 'interrupted' | 'unreadable' | 'blind';
  /** Sessions of the old colour still active when the wait ended. */
  readonly left: number;
  readonly waitedMs: number;
};

export type SessionDrainOptions = {
  readonly colour: Colour;
  readonly tag: string;
  /** `127.0.0.1:<port>` of the colour that took over: verify's requests went there after the switch. */
  readonly newAddress: string;
  readonly idleMs: number;
  readonly maxMs: number;
  /** performance.now() at the switch: the bound counts from there. */
  readonly switchedAt: number;
  readonly signal: AbortSignal;
  /** Called after every look, about once a second. */
  readonly onProgress: (state: { readonly left: number; readonly remainingMs: number; readonly elapsedMs: number }) => void;
  readonly pollMs?: number;
};

/** The log's first read, started early (alongside the record before this step) by the reader that goes on. */
export type FirstLook = { readonly reader: SessionLogReader; readonly read: ReturnType<SessionLogReader['read']> };

export function startFirstLook(transport: Transport, file: string): FirstLook {
  const reader = new SessionLogReader(transport, file);
  const read = reader.read();
  read.catch(() => {});
  return { reader, read };
}

export async function drainSessions(
  transport: Transport,
  file: string,
  options: SessionDrainOptions,
  early?: FirstLook,
): Promise<SessionDrainOutcome> {
  const reader = early?.reader ?? new SessionLogReader(transport, file);
  const started = performance.now();
  const deadline = options.switchedAt + options.maxMs;
  const waited = () => Math.round(performance.now() - started);
  let first = true;
  for (;;) {
    const { now, readable } = await (first && early !== undefined ? early.read : reader.read());
    // Verify's requests went to the new colour after the switch: a log without them is not
    // written for this site (a server or location with its own access_log does not inherit ours).
    const sinceSwitchS = (performance.now() - options.switchedAt) / 1000 + 5;
    const blind = first && readable && (reader.addresses.get(options.newAddress) ?? 0) < now - sinceSwitchS;
    first = false;
    if (!readable || blind) {
      // Without the log nothing says the sessions are over: they get the whole bound.
      await sleep(Math.max(0, deadline - performance.now()), options.signal);
      return { ended: options.signal.aborted ? 'interrupted' : readable ? 'blind' : 'unreadable', left: 0, waitedMs: waited() };
    }
    const live = liveSessions(reader.book, options.tag, now - options.idleMs / 1000);
    const elapsedMs = performance.now() - options.switchedAt;
    if (live.length === 0) return { ended: 'quiet', left: 0, waitedMs: waited() };
    if (options.signal.aborted) return { ended: 'interrupted', left: live.length, waitedMs: waited() };
    if (performance.now() >= deadline) return { ended: 'bound', left: live.length, waitedMs: waited() };
    // Quiet by the newest request of any of them, or the bound, whichever comes first.
    const newest = Math.max(...live.map((entry) => entry.lastAt));
    const quietInMs = (newest - now) * 1000 + options.idleMs;
    const remainingMs = Math.max(0, Math.min(deadline - performance.now(), quietInMs));
    options.onProgress({ left: live.length, remainingMs, elapsedMs });
    await sleep(Math.min(options.pollMs ?? 1_000, Math.max(50, remainingMs)), options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
