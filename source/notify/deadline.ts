/**
 * Runs `work` with a signal that aborts after `ms`, and settles by then whatever `work` does: a
 * library that ignores the signal still cannot hold the caller (or a deploy's exit) any longer.
 */
export function withDeadline<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer within ${formatSeconds(ms)}`);
      reject(error);
      controller.abort(error);
    }, ms);
  });
  const running = Promise.resolve().then(() => work(controller.signal));
  return Promise.race([running, expired]).finally(() => clearTimeout(timer));
}

function formatSeconds(ms: number): string {
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)}s`;
}
