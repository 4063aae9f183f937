import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { sshdSkipReason } from '../harness/index.js';
import { createWorld, getJson, type World } from './world.js';

/**
 * Nothing runs as root on the host unless configured: a reload through `sudo -n` by a user with
 * no sudo rule fails at once with what to do, never hanging on a password prompt, and the old
 * release keeps serving.
 */
const skip = (await sshdSkipReason()) ?? ((await import('node:fs')).existsSync('/usr/bin/sudo') ? undefined : 'sudo is not installed');

describe.skipIf(skip !== undefined)(`sudo without a rule${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let v1 = '';
  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    const first = await deploy(world.context().context);
    expect(first.error).toBeUndefined();
    v1 = first.release!;
  }, 120_000);
  afterAll(async () => world?.stop());

  // Without `-n` sudo would wait for a password; the test's own timeout would then fail it.
  it('fails the switch with a sudoers hint and rolls back, without waiting for a password', async () => {
    world.editServer((text) => `${text}\n# sudo\n`);
    const config = world.config(
      {},
      {
        nginx: {
          upstreamFile: world.nginx.upstreamFile,
          upstream: world.nginx.upstreamName,
          test: [...world.nginx.testCommand],
          reload: ['sudo', '-n', ...world.nginx.reloadCommand],
        },
      },
    );
    const summary = await deploy(world.context({ config }).context, { skipValidate: true });
    expect(summary.ok).toBe(false);
    expect(summary.error?.step).toBe('switch');
    expect(summary.error?.hint).toMatch(/NOPASSWD sudoers rule/);
    expect((await getJson(`${world.publicUrl}/health`)).body['release']).toBe(v1);
  }, 120_000);
});
