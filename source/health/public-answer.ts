import type { HttpCheck } from '../config/schema.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError } from '../errors.js';
import { probeHttp } from './http-probe.js';

/**
 * After a failed cutover was undone: does the public URL answer the HTTP checks again? The
 * colour that serves may be running while nginx itself is down, and "Serving now: …" must not
 * claim more than is true. Null when it answers (or there is nothing to check), otherwise why not.
 */
export async function publicUrlProblem(
  publicUrl: string,
  checks: readonly HttpCheck[],
  options: { readonly timeoutMs?: number; readonly headers?: Readonly<Record<string, string>> } = {},
): Promise<string | null> {
  if (checks.length === 0) return null;
  let problem: string | null = null;
  // Twice: a kept-alive connection that nginx closed at its last reload fails once, harmlessly.
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    try {
      await probeHttp(publicUrl, checks, {
        timeoutMs: options.timeoutMs ?? 5_000,
        ...(options.headers ? { headers: options.headers } : {}),
      });
      return null;
    } catch (error) {
      problem = `${publicUrl} does not answer: ${describeError(error)}`;
      if (attempt === 1) await sleep(500);
    }
  }
  return problem;
}
