import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { createWorld, getJson, type World } from './world.js';

/** A release that passes every check but fails real traffic is switched back by the watch window. */
describe('post-cutover watch window (real nginx access log)', () => {
  let world: World;
  let v1 = '';
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    const summary = await deploy(world.context().context);
    expect(summary.error).toBeUndefined();
    v1 = summary.release!;
  }, 60_000);
  afterAll(async () => world?.stop());

  it('switches back to the old release when the new one answers 5xx under traffic', async () => {
    const original = readFileSync(join(world.project, 'server.py'), 'utf8');
    // v2: /ontology/status breaks; /health and MCP (what the checks look at) still pass.
    world.editServer((text) =>
      text.replace(
        '            else:\n                onto = self.server.app.onto\n',
        '            else:\n                self.send_json(500, {"error": "index corrupted"})\n                return\n',
      ),
    );
    const config = world.config({ watch: { seconds: 2, maxErrorRate: 0.05, accessLog: world.nginx.accessLog } });
    let stop = false;
    let sent = 0;
    const traffic = (async () => {
      const deadline = Date.now() + 60_000;
      while (!stop && Date.now() < deadline && sent < 5_000) {
        await fetch(`${world.publicUrl}/ontology/status`)
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
        sent += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      const { context, events } = world.context({ config });
      const summary = await deploy(context, { skipValidate: true });
      expect(summary.ok).toBe(false);
      expect(summary.error?.step).toBe('watch');
      expect(summary.error?.message).toMatch(/requests through nginx failed/);
      expect(summary.rolledBack).toBe(true);
      expect(events.some((event) => event.kind === 'step:done' && event.step === 'rollback.switch')).toBe(true);
      expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(v1);
    } finally {
      stop = true;
      await traffic;
      world.editServer(() => original);
    }
    expect(sent).toBeGreaterThan(10);
  }, 90_000);

  it('switches back when the new release is slower than the old one was before the switch (watch.maxSlowdown)', async () => {
    const before = (await getJson(`${world.publicUrl}/health`)).body['release'];
    const original = readFileSync(join(world.project, 'server.py'), 'utf8');
    // v2: every check passes, but /ontology/status takes 80 ms more than it did.
    world.editServer((text) =>
      text.replace(
        '            else:\n                onto = self.server.app.onto\n',
        '            else:\n                time.sleep(0.08)\n                onto = self.server.app.onto\n',
      ),
    );
    const config = world.config({ watch: { seconds: 2, maxErrorRate: 0.5, maxSlowdown: 3, accessLog: world.nginx.accessLog } });
    let stop = false;
    let sent = 0;
    const traffic = (async () => {
      const deadline = Date.now() + 60_000;
      while (!stop && Date.now() < deadline && sent < 5_000) {
        await fetch(`${world.publicUrl}/ontology/status`)
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
        sent += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      const { context } = world.context({ config });
      const summary = await deploy(context, { skipValidate: true });
      expect(summary.ok).toBe(false);
      expect(summary.error?.step).toBe('watch');
      expect(summary.error?.message).toMatch(
        /p(50|99) latency through nginx was \d+ ms, \d+% above the old release's \d+ ms before the switch \(more than 300%\)/,
      );
      expect(summary.rolledBack).toBe(true);
      expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(before);
    } finally {
      stop = true;
      await traffic;
      world.editServer(() => original);
    }
  }, 90_000);
});
