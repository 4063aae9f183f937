import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectTarget } from '../../source/config/load.js';
import { deploy } from '../../source/engine/deploy.js';
import { runDoctor } from '../../source/ops/doctor.js';
import type { EngineEvent } from '../../source/run/events.js';
import { nginxSkipReason } from '../harness/index.js';
import { createWorld, getJson, type World } from './world.js';

/**
 * Nothing exposed past nginx: a server that binds 0.0.0.0 (the example server does when HOST
 * says so, as many servers do by default) is flagged after start and by doctor, and refused under
 * security.loopbackOnly before the switch, the old release serving on.
 */

const skip = await nginxSkipReason();
const everywhere = {
  runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt', python: 'python3', env: { HOST: '0.0.0.0' } },
};

describe.skipIf(skip !== undefined)('the exposure check after start', () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  const exposureOf = (events: readonly EngineEvent[]) =>
    events.find((event) => event.kind === 'step:done' && event.step === 'exposure') as { detail?: string } | undefined;

  it('flags a server bound to 0.0.0.0 in the checklist and in doctor, naming HOST as the fix', async () => {
    const config = world.config(everywhere);
    const { context, events } = world.context({ config });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.ok).toBe(true);
    expect(exposureOf(events)?.detail).toMatch(/exposed: 0\.0\.0\.0:\d+ \(every interface\)/);
    const notice = events.find((event) => event.kind === 'notice' && event.level === 'warn');
    expect(notice).toMatchObject({ message: expect.stringMatching(/blue listens on 0\.0\.0\.0:\d+ .*HOST environment variable/) });

    const checks = await runDoctor({ config, target: selectTarget(config, undefined), connect: world.connect });
    const blue = checks.find((check) => check.check === 'exposure blue');
    expect(blue).toMatchObject({ ok: true, warning: true, detail: expect.stringContaining('0.0.0.0') });
    expect(blue?.fix).toContain('HOST');
    expect(checks.find((check) => check.check === 'exposure green')).toMatchObject({
      ok: true,
      detail: expect.stringContaining('nothing listens'),
    });
    expect(checks.find((check) => check.check === 'colour ports from outside')).toMatchObject({ warning: true });
  }, 120_000);

  it('refuses it under security.loopbackOnly before the switch: the old release keeps serving', async () => {
    const before = await getJson(`${world.publicUrl}/health`);
    expect(before.body['release']).toEqual(expect.any(String));
    const config = world.config({ ...everywhere, security: { loopbackOnly: true } });
    world.editServer((text) => text.replace('"status": "ok"', '"status": "ok", "exposed": 2'));
    const { context, events } = world.context({ config });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.ok).toBe(false);
    const failed = events.find((event) => event.kind === 'step:failed');
    expect(failed).toMatchObject({
      step: 'exposure',
      message: expect.stringMatching(/green listens on 0\.0\.0\.0:\d+.*loopbackOnly refuses it/),
    });
    expect(failed).toMatchObject({ hint: expect.stringContaining('HOST') });
    expect(events.some((event) => event.kind === 'step:start' && event.step === 'switch')).toBe(false);
    const after = await getJson(`${world.publicUrl}/health`);
    expect(after.body['release']).toBe(before.body['release']);

    const checks = await runDoctor({ config, target: selectTarget(config, undefined), connect: world.connect });
    expect(checks.find((check) => check.check === 'exposure blue')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('loopbackOnly'),
    });
  }, 120_000);
});
