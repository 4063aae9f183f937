import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { createWorld, getJson, type World } from './world.js';

/**
 * A long-lived Server-Sent Events response through the real nginx: it streams (the progress event
 * arrives long before the result, so nothing buffers it) and it survives a cutover, because the
 * drain waits for nginx to let go of the old colour before stopping it.
 */
describe('a streaming (SSE) MCP response across a cutover', () => {
  let world: World;
  // Long enough to outlast everything before the drain (start, health, switch, verify), even on a loaded machine.
  const slowMs = 8_000;
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    const config = world.config({
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', env: { EXAMPLE_SLOW_MS: String(slowMs) } },
    });
    const first = await deploy(world.context({ config }).context, { skipValidate: true });
    expect(first.error).toBeUndefined();
  }, 60_000);
  afterAll(async () => world?.stop());

  it('streams through nginx and completes while the old colour drains', async () => {
    const config = world.config({
      drainSeconds: 0.2,
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', env: { EXAMPLE_SLOW_MS: String(slowMs) } },
    });
    const before = (await getJson(`${world.publicUrl}/health`)).body['release'];
    const response = await fetch(`${world.publicUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'list_concepts', arguments: {}, _meta: { progressToken: 'p1' } },
      }),
      signal: AbortSignal.timeout(60_000),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Unbuffered streaming shows as order: the progress event is read while the result is not there yet.
    let progressBeforeResult = false;
    // Start the cutover while the stream is open.
    world.editServer((source) => `${source}\n# sse cutover\n`);
    const run = world.context({ config });
    const deploying = deploy(run.context, { skipValidate: true });
    for (let reads = 0; reads < 1_000; reads += 1) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.includes('notifications/progress') && !text.includes('"result"')) progressBeforeResult = true;
    }
    const summary = await deploying;
    expect(summary.error).toBeUndefined();
    expect(progressBeforeResult).toBe(true);
    expect(text).toMatch(/"id": ?7[\s\S]*"content"/);
    expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(summary.release);
    expect(summary.release).not.toBe(before);
    // The drain saw the stream's connection to the old colour still open, and waited for it.
    expect(run.events.some((event) => event.kind === 'log' && /connection\(s\) still open to port/.test(event.line))).toBe(true);
  }, 120_000);
});
