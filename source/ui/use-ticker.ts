import { useEffect, useState } from 'react';

/**
 * The one timer behind every spinner and elapsed time on screen. It runs only while something
 * is in progress, so an idle app (browsing releases, reading a finished run) does not redraw.
 */
export function useTicker(active: boolean, intervalMs: number): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setTick((value) => value + 1), intervalMs);
    return () => clearInterval(timer);
  }, [active, intervalMs]);
  return tick;
}
