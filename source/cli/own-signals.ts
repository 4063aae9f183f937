/**
 * `conf` (the terminal app's preferences) brings `when-exit`, which hooks SIGINT, SIGTERM and
 * SIGHUP (among others) as soon as it is imported and re-raises the signal at the process.
 * mcp-deploy already answers those signals by stopping safely, so one `kill` was seen twice
 * ("Still stopping safely…", as if the operator had insisted). The run owns these signals:
 * whatever a module loaded here adds for them is taken off again. Its `exit` hook stays, so its
 * own clean-up still runs when the process ends.
 */
const owned = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export async function importOwningSignals<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(owned.map((signal) => [signal, new Set(process.listeners(signal))]));
  try {
    return await load();
  } finally {
    for (const signal of owned) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
      }
    }
  }
}
