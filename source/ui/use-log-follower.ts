import { useCallback, useEffect, useRef } from 'react';
import type { AppEngine } from './engine-port.js';
import type { EventFeed } from './event-feed.js';

/**
 * Follows the host's log into the feed on a connection of its own, one follower at a time:
 * starting again (after a rollback changed the active release) stops the previous one, and
 * unmounting stops the last, so no remote `tail -F` outlives the app.
 */
export function useLogFollower(engine: AppEngine, feed: EventFeed, options: { readonly nginx?: boolean; readonly lines?: number } = {}) {
  const current = useRef<AbortController | null>(null);
  const { nginx, lines } = options;
  const stop = useCallback(() => {
    current.current?.abort();
    current.current = null;
  }, []);
  /** `lines` overrides how many existing lines to show first (0: only what comes next). */
  const start = useCallback(
    (override: { readonly lines?: number } = {}) => {
      stop();
      const first = override.lines ?? lines;
      const controller = new AbortController();
      current.current = controller;
      engine
        .followLog({
          signal: controller.signal,
          onLine: (line, source) => feed.pushLog(source, line),
          ...(nginx === undefined ? {} : { nginx }),
          ...(first === undefined ? {} : { lines: first }),
        })
        .catch((error: unknown) => {
          if (!controller.signal.aborted) feed.pushLog('engine', `(log: ${engine.failure(error).message})`);
        });
    },
    [engine, feed, nginx, lines, stop],
  );
  useEffect(() => stop, [stop]);
  return { start, stop };
}
