import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { HttpCheck } from '../config/schema.js';
import { endpointUrl } from './probe-signal.js';

/**
 * After nginx is told to reload, its old workers keep answering for a moment, so a check through
 * the public URL may still reach the old colour and pass for the wrong reason. When a health
 * route reports the release it runs (a `release` field: RELEASE_ID is in every server's
 * environment), we wait until the public URL says the new one, each time on a fresh connection
 * so no kept-alive socket to an old worker answers. Servers that report nothing get a short
 * settle time instead.
 */
export async function waitForRelease(
  baseUrl: string,
  checks: readonly HttpCheck[],
  release: string,
  options: { timeoutMs: number; settleMs?: number; signal?: AbortSignal },
): Promise<'confirmed' | 'unreported'> {
  const deadline = Date.now() + options.timeoutMs;
  let lastSeen: string | null = null;
  while (Date.now() < deadline) {
    options.signal?.throwIfAborted();
    // One attempt: what each route says now. An old release means "not yet"; a route that
    // answers without naming a release (an error page, a server that never reports it) ends the
    // wait, and the health checks that follow say what is wrong, if anything.
    let reportedThisTime = false;
    for (const check of checks) {
      const seen = await reportedRelease(endpointUrl(baseUrl, check.path)).catch(() => undefined);
      if (seen === undefined) continue;
      if (seen === release) return 'confirmed';
      reportedThisTime = true;
      lastSeen = seen;
    }
    if (!reportedThisTime) {
      await sleep(options.settleMs ?? 1_000);
      return 'unreported';
    }
    await sleep(100);
  }
  throw new Error(
    `${baseUrl} still serves release ${lastSeen ?? '?'} instead of ${release} after ${Math.round(options.timeoutMs / 1000)} s: did nginx reload?`,
  );
}

/** The `release` a route reports, or undefined when it reports none. A fresh connection each time. */
function reportedRelease(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? requestTls : request;
    const req = send(
      url,
      { method: 'GET', agent: false, timeout: 5_000, headers: { connection: 'close', accept: 'application/json' } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
            const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['release'] : undefined;
            resolve(typeof value === 'string' ? value : undefined);
          } catch {
            resolve(undefined);
          }
        });
        response.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
