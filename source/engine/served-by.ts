import { request } from 'node:http';
import { request as requestTls } from 'node:https';
import type { Config } from '../config/load.js';
import { DeployError } from '../errors.js';
import { endpointUrl } from '../health/probe-signal.js';
import type { Colour } from './colours.js';
import { colourHeader } from './nginx-location-include.js';

/**
 * Who answers through the public URL: the proof that nginx really sends traffic where the
 * includes say, rather than an assumption. Two signs count: the colour nginx names in
 * X-MCP-Deploy-Colour (added by the location include from `$upstream_addr`, so no server can
 * fake it) and the release a health route reports. Each look is a fresh connection, so no
 * kept-alive socket to an old nginx worker answers for the new configuration.
 */
export type ServedBy = {
  /** The colour nginx says answered; null when the site does not use the location include. */
  readonly colour: Colour | null;
  /** The release a health route reported; null when none reports one. */
  readonly release: string | null;
};

const lookTimeoutMs = 5_000;

/** One look: the first route that answers at all says what it can. Null when nothing answered. */
export async function observeServing(
  publicUrl: string,
  health: Config['health'],
  /** `headers`: the probe's API key when nginx asks for keys (engine/keys-host.ts). */
  options: { readonly signal?: AbortSignal; readonly headers?: Readonly<Record<string, string>> } = {},
): Promise<ServedBy | null> {
  let answered: ServedBy | null = null;
  for (const check of health.http) {
    options.signal?.throwIfAborted();
    const seen = await look(endpointUrl(publicUrl, check.path), 'GET', options.signal, options.headers).catch(() => null);
    if (seen === null) continue;
    if (seen.colour !== null || seen.release !== null) return seen;
    answered = seen;
  }
  // No route reports anything (or there are none): any answer through the location carries the
  // colour, so a bare JSON-RPC ping to the MCP endpoint will do (its status does not matter).
  const mcp = await look(endpointUrl(publicUrl, health.mcp?.path ?? '/mcp'), 'POST', options.signal, options.headers).catch(() => null);
  return mcp ?? answered;
}

export type ServingProof =
  | { readonly by: 'colour'; readonly colour: Colour }
  | { readonly by: 'release'; readonly release: string }
  /** Nothing through the public URL names a colour or a release. */
  | { readonly by: 'nothing' };

/**
 * Waits until the public URL shows `expected` (nginx's old workers answer for a moment after a
 * reload). A sign of the old side until the deadline means nginx did not switch: that throws.
 */
export async function waitForServing(
  publicUrl: string,
  health: Config['health'],
  /** `release` null: the old side runs the same release (a restart), so a reported release tells nothing. */
  expected: { readonly colour: Colour; readonly release: string | null },
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal; readonly headers?: Readonly<Record<string, string>> },
): Promise<ServingProof> {
  const deadline = performance.now() + options.timeoutMs;
  let last: ServedBy | null = null;
  for (;;) {
    options.signal?.throwIfAborted();
    const seen = await observeServing(publicUrl, health, options);
    if (seen !== null) {
      last = seen;
      if (seen.colour === expected.colour) return { by: 'colour', colour: seen.colour };
      if (seen.colour === null && expected.release !== null && seen.release === expected.release)
        return { by: 'release', release: seen.release };
      if (seen.colour === null && (seen.release === null || expected.release === null)) return { by: 'nothing' };
    }
    if (performance.now() >= deadline) break;
    await sleep(100, options.signal);
  }
  const what =
    last === null ? 'nothing answered' : last.colour !== null ? `${last.colour} still answers` : `release ${last.release} still answers`;
  throw new DeployError(
    'deploy',
    `${publicUrl} is not served by ${expected.colour}${expected.release === null ? '' : ` (${expected.release})`} ${Math.round(options.timeoutMs / 1000)} s after the switch: ${what}.`,
    { hint: 'nginx did not take the new routing: check that the site includes the files mcp-deploy rewrites (mcp-deploy doctor).' },
  );
}

/** What one answer says. Only the headers and a bounded JSON body are read; an event stream is cut off. */
function look(
  url: string,
  method: 'GET' | 'POST',
  signal: AbortSignal | undefined,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<ServedBy> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? requestTls : request;
    const body = method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 'mcp-deploy-served-by', method: 'ping' }) : undefined;
    const req = send(
      url,
      {
        method,
        agent: false,
        timeout: lookTimeoutMs,
        ...(signal ? { signal } : {}),
        headers: {
          ...extraHeaders,
          connection: 'close',
          accept: method === 'POST' ? 'application/json, text/event-stream' : 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      },
      (response) => {
        const header = response.headers[colourHeader.toLowerCase()];
        const colour = header === 'blue' || header === 'green' ? header : null;
        const json = /application\/json/.test(response.headers['content-type'] ?? '') && method === 'GET';
        if (!json) {
          response.destroy();
          resolve({ colour, release: null });
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > 64 * 1024) response.destroy();
          else chunks.push(chunk);
        });
        response.on('close', () => resolve({ colour, release: releaseIn(Buffer.concat(chunks).toString('utf8')) }));
        response.on('error', () => resolve({ colour, release: null }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function releaseIn(text: string): string | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['release'] : undefined;
    return typeof value === 'string' && value !== '' ? value : null;
  } catch {
    return null;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
