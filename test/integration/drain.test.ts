import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { drainPort, establishedConnections, reloadSettleMs } from '../../source/engine/drain.js';
import { LocalTransport } from '../../source/remote/local-transport.js';

/** The drain reads the host's own connection table: checked here against real sockets. */
describe('drain waits for connections to the old colour to close', () => {
  it('counts established connections to a port, and waits until they are gone', async () => {
    const server = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const transport = new LocalTransport();
    const clients: Socket[] = [];
    try {
      expect(await establishedConnections(transport, port)).toBe(0);
      for (let index = 0; index < 2; index += 1) {
        const client = connect(port, '127.0.0.1');
        await new Promise((resolve) => client.once('connect', resolve));
        clients.push(client);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await establishedConnections(transport, port)).toBe(2);
      setTimeout(() => {
        for (const client of clients) client.destroy();
      }, reloadSettleMs + 600);
      const waited: string[] = [];
      const open = await drainPort(transport, port, { minimumMs: 100, maximumMs: 5_000, log: (line) => waited.push(line) });
      expect(open).toBe(0);
      // It saw the two connections and waited for them rather than returning after the minimum.
      expect(waited[0]).toBe(`2 connection(s) still open to port ${port}`);
    } finally {
      for (const client of clients) client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('never looks before nginx has told its old workers to stop accepting, even with drainSeconds 0', async () => {
    const server = createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = connect(port, '127.0.0.1');
    try {
      await new Promise((resolve) => client.once('connect', resolve));
      // Gone well within the settle time: a drain that looked at once would have seen it.
      setTimeout(() => client.destroy(), reloadSettleMs / 2);
      const waited: string[] = [];
      const open = await drainPort(new LocalTransport(), port, { minimumMs: 0, maximumMs: 5_000, log: (line) => waited.push(line) });
      expect(open).toBe(0);
      expect(waited).toEqual([]);
    } finally {
      client.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
