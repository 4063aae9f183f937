import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now. The kernel picks it, so parallel
 * test files do not collide; there is a small window before the caller binds it, which is fine
 * for tests.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not learn the port of a fresh listener'));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}
