import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on 127.0.0.1 in front of another local port (the test sshd, nginx), standing in for
 * the internet between an operator and a host: every chunk is delivered half the round-trip time
 * later in each direction, in order, and the relay counts the bytes both ways and the round trips
 * (a turn of the conversation: the host answering after the client spoke). It can cut every
 * connection, at once or once a number of bytes has gone up, like a link that drops mid-transfer.
 *
 * Bandwidth is not limited: the figures isolate latency. A chunk is held in memory until it is
 * due, so the sender's TCP window is not what limits throughput here; SSH's own channel window is.
 */

export type RelayCounters = {
  /** Bytes from the client towards the target (the upload direction). */
  readonly up: number;
  /** Bytes from the target back to the client. */
  readonly down: number;
  /** Times the target answered after the client had sent something since its last answer. */
  readonly roundTrips: number;
  readonly connections: number;
};

export type LatencyRelay = {
  port: number;
  /** Round-trip time added, in ms; changeable between runs. */
  rttMs: number;
  counters(): RelayCounters;
  resetCounters(): void;
  /** Cuts every open connection now (both ends see a reset). */
  cut(): void;
  /** Cuts every connection once `bytes` more bytes have gone up through the relay; returns when it happened. */
  cutAfterUpBytes(bytes: number): Promise<void>;
  close(): Promise<void>;
};

export async function startLatencyRelay(targetPort: number, options: { rttMs?: number } = {}): Promise<LatencyRelay> {
  let up = 0;
  let down = 0;
  let roundTrips = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  let cutAt: { at: number; done: () => void } | undefined;

  const cut = () => {
    for (const socket of sockets) socket.resetAndDestroy();
    sockets.clear();
  };

  const relay: LatencyRelay = {
    port: 0,
    rttMs: options.rttMs ?? 0,
    counters: () => ({ up, down, roundTrips, connections }),
    resetCounters: () => {
      up = 0;
      down = 0;
      roundTrips = 0;
      connections = 0;
    },
    cut,
    cutAfterUpBytes: (bytes) =>
      new Promise<void>((resolve) => {
        cutAt = { at: up + bytes, done: resolve };
      }),
    close: () =>
      new Promise<void>((resolve) => {
        cut();
        server.close(() => resolve());
      }),
  };

  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    connections += 1;
    const target = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
    // A wire does not hold a small packet back until the last one is acknowledged: without this,
    // Nagle's algorithm here meeting the far end's delayed ACK (40 ms on Linux) adds stalls that
    // neither sshd nor the client would see on a real link.
    client.setNoDelay(true);
    sockets.add(client);
    sockets.add(target);
    // Whether the client spoke since the target last answered: the next answer closes a round trip.
    let clientSpoke = false;
    const forward = (from: Socket, to: Socket, direction: 'up' | 'down') => {
      const queue: { due: number; chunk: Buffer | null }[] = [];
      let timer: NodeJS.Timeout | undefined;
      const flush = () => {
        timer = undefined;
        const now = performance.now();
        while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) {
          const { chunk } = queue.shift()!;
          if (to.destroyed) return;
          if (chunk === null) to.end();
          else to.write(chunk);
        }
        if (queue.length > 0) timer = setTimeout(flush, Math.max(0, (queue[0]?.due ?? now) - now));
      };
      const enqueue = (chunk: Buffer | null) => {
        queue.push({ due: performance.now() + relay.rttMs / 2, chunk });
        if (relay.rttMs === 0 && queue.length === 1) flush();
        else if (timer === undefined) timer = setTimeout(flush, relay.rttMs / 2);
      };
      from.on('data', (chunk: Buffer) => {
        if (direction === 'up') {
          up += chunk.length;
          clientSpoke = true;
          if (cutAt !== undefined && up >= cutAt.at) {
            const { done } = cutAt;
            cutAt = undefined;
            cut();
            done();
            return;
          }
        } else {
          down += chunk.length;
          if (clientSpoke) roundTrips += 1;
          clientSpoke = false;
        }
        enqueue(chunk);
      });
      from.on('end', () => enqueue(null));
    };
    forward(client, target, 'up');
    forward(target, client, 'down');
    // Half-open on both sides: an end travels with the same delay as the data before it. An error
    // (a reset) ends both at once, as it would on a real link.
    const reset = () => {
      client.destroy();
      target.destroy();
    };
    client.on('error', reset);
    target.on('error', reset);
    client.on('close', () => sockets.delete(client));
    target.on('close', () => sockets.delete(target));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  relay.port = typeof address === 'object' && address !== null ? address.port : 0;
  return relay;
}
