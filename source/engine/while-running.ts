import { DeployError } from '../errors.js';
import { sleepUnlessAborted } from './sample-loop.js';

/**
 * Runs `check` while polling that the server is still up, so a crash fails fast instead of
 * waiting out the timeout. `check` gets a signal that is aborted once the race is decided, so a
 * check that lost to the watchdog stops probing instead of running on to its own timeout.
 */
export async function checkWhileRunning<T>(
  check: (signal: AbortSignal) => Promise<T>,
  running: () => Promise<boolean>,
  during = 'start',
): Promise<T> {
  let stop = false;
  const done = new AbortController();
  const watchdog = (async () => {
    while (!stop) {
      // Woken by the end of the check too: the step must not outlast its check by up to a tick.
      await sleepUnlessAborted(500, done.signal);
      if (stop) return;
      if (!(await running().catch(() => true))) throw new DeployError('deploy', `The server exited during ${during}.`);
    }
  })();
  try {
    return await Promise.race([check(done.signal), watchdog as Promise<never>]);
  } finally {
    stop = true;
    done.abort();
    await watchdog.catch(() => {});
  }
}
