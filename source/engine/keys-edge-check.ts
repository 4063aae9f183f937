import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeployError } from '../errors.js';
import { endpointUrl } from '../health/probe-signal.js';
import { reloadSettleMs } from './drain.js';

/**
 * After nginx reloaded with a changed keys file: wait until the public URL behaves as the file
 * says (the new keys accepted, the removed ones refused) before the command says it is done. A
 * reload returns before nginx's new workers run, and the old ones go on accepting connections
 * for a moment after (drain.ts): a client told "here is your key" must not meet a worker that
 * never heard of it. Each look is a fresh connection, so no kept-alive socket answers for an old worker.
 */

const boundMs = 15_000;

export async function waitForKeysAtEdge(
  publicUrl: string,
  mcpPath: string,
  expected: { readonly accepted: readonly string[]; readonly refused: readonly string[] },
): Promise<void> {
  if (expected.accepted.length + expected.refused.length === 0) return;
  const url = endpointUrl(publicUrl, mcpPath);
  const deadline = performance.now() + boundMs;
  const holds = async () => {
    for (const secret of expected.accepted) if ((await statusWith(url, secret)) === 401) return false;
    for (const secret of expected.refused) if ((await statusWith(url, secret)) !== 401) return false;
    return true;
  };
  let settledOnce = false;
  for (;;) {
    if (await holds().catch(() => false)) {
      // Once more after the moment old workers may still accept in: go by that look.
      if (settledOnce) return;
      settledOnce = true;
      await sleep(reloadSettleMs);
      continue;
    }
    settledOnce = false;
    if (performance.now() >= deadline) {
      throw new DeployError(
        'deploy',
        `nginx reloaded with the keys, but ${url} still does not answer as they say after ${boundMs / 1000} s.`,
        {
          hint: 'Check that the site includes the location include (mcp-deploy doctor), and that nginx.reload reloads the nginx serving publicUrl.',
        },
      );
    }
    await sleep(100);
  }
}

/** After a change from `before` to `after`: the keys it added accepted, the keys it removed refused. */
export function waitForKeyChange(
  publicUrl: string,
  mcpPath: string,
  before: readonly { readonly secret: string }[],
  after: readonly { readonly secret: string }[],
): Promise<void> {
  const was = new Set(before.map((key) => key.secret));
  const is = new Set(after.map((key) => key.secret));
  return waitForKeysAtEdge(publicUrl, mcpPath, {
    accepted: [...is].filter((secret) => !was.has(secret)),
    refused: [...was].filter((secret) => !is.has(secret)),
  });
}

/** The status of one JSON-RPC ping with this key: 401 is nginx refusing it; anything else got past the key. */
function statusWith(url: string, secret: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? requestTls : request;
    const body = JSON.stringify({ jsonrpc: '2.0', id: 'mcp-deploy-keys', method: 'ping' });
    const req = send(
      url,
      {
        method: 'POST',
        agent: false,
        timeout: 5_000,
        headers: {
          authorization: `Bearer ${secret}`,
          connection: 'close',
          accept: 'application/json, text/event-stream',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (response) => {
        response.destroy();
        resolve(response.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
