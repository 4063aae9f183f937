/** A promise with its resolve and reject at hand: how the fleet and a host's run meet at a phase. */
export type Deferred<T> = {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  readonly settled: () => boolean;
};

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let settled = false;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  // A phase nobody waits for any more (its run ended) must not be an unhandled rejection.
  promise.catch(() => {});
  return {
    promise,
    resolve: (value) => {
      settled = true;
      resolve(value);
    },
    reject: (error) => {
      settled = true;
      reject(error);
    },
    settled: () => settled,
  };
}

/**
 * A meeting point: a host arrives with a value and waits; the fleet, once every host has arrived
 * (or one has ended), lets each go on with an answer, or stops it with an error.
 */
export type Meeting<In, Out> = { readonly arrived: Deferred<In>; readonly answer: Deferred<Out> };

export function meeting<In, Out>(): Meeting<In, Out> {
  return { arrived: deferred<In>(), answer: deferred<Out>() };
}

/** A host at a meeting point: say it is there, wait for the fleet's answer. */
export function arrive<In, Out>(point: Meeting<In, Out>, value: In): Promise<Out> {
  point.arrived.resolve(value);
  return point.answer.promise;
}

/** At most `limit` holders at once. */
export function semaphore(limit: number): { acquire(): Promise<() => void> } {
  let free = limit;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else free += 1;
  };
  return {
    acquire: async () => {
      if (free > 0) free -= 1;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
  };
}
