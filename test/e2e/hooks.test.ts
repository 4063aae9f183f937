import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../source/engine/deploy.js';
import { rollback } from '../../source/engine/rollback.js';
import type { EngineEvent } from '../../source/run/events.js';
import { sshdSkipReason } from '../harness/index.js';
import { freshJson } from './fresh-get.js';
import { createWorld, processRunning, type World } from './world.js';

/**
 * The four hooks over a real sshd: each fires once per run, in order, with the variables
 * docs/config.md lists, for a deploy and for a rollback alike; a failing beforeStart stops the
 * deploy with the old release serving, and a hook that overruns its time is stopped.
 *
 * Every hook appends one line to a file both sides can write (the host is this machine), so the
 * file's order is the order they ran in.
 */
const skip = await sshdSkipReason();

describe.skipIf(skip !== undefined)(`hooks over SSH${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  let logFile: string;
  let v1 = '';

  const hookLines = () =>
    existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .split('\n')
          .filter((line) => line !== '')
      : [];
  const servedRelease = async () => (await freshJson(`${world.publicUrl}/health`)).body['release'];
  const stepOrder = (events: readonly EngineEvent[]) =>
    events.flatMap((event) => (event.kind === 'step:done' && event.step.startsWith('hooks.') ? [event.step] : []));

  const hooks = (overrides: Record<string, unknown> = {}) => ({
    local: {
      before: `echo "local.before $MCP_DEPLOY_OPERATION $MCP_DEPLOY_APP $MCP_DEPLOY_TARGET $MCP_DEPLOY_HOOK" >> ${logFile}`,
      after: `echo "local.after $MCP_DEPLOY_OPERATION $MCP_DEPLOY_RESULT release=$MCP_DEPLOY_RELEASE previous=$MCP_DEPLOY_PREVIOUS error=$MCP_DEPLOY_ERROR_STEP" >> ${logFile}`,
    },
    // In the release's folder, with its environment: the env file's secret, the server's own variables.
    beforeStart: `echo "beforeStart $MCP_DEPLOY_OPERATION $MCP_DEPLOY_RELEASE $MCP_DEPLOY_COLOUR port=$PORT id=$RELEASE_ID cwd=$(pwd) secret=$HOOK_SECRET previous=$MCP_DEPLOY_PREVIOUS" >> ${logFile}`,
    // Traffic is on the new release by now, and the old colour has stopped.
    afterSwitch: {
      command: `served=$(python3 -c 'import json,os,urllib.request; print(json.load(urllib.request.urlopen(os.environ["MCP_DEPLOY_PUBLIC_URL"] + "/health"))["release"])'); old=stopped; for f in "$MCP_DEPLOY_ROOT"/run/*.pid; do [ "$f" = "$MCP_DEPLOY_ROOT/run/$MCP_DEPLOY_COLOUR.pid" ] || { [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && old=running; }; done; echo "afterSwitch $MCP_DEPLOY_OPERATION $MCP_DEPLOY_RELEASE served=$served old=$old cwd=$(pwd)" >> ${logFile}`,
      timeoutSeconds: 30,
    },
    ...overrides,
  });

  const configWith = (hookConfig: Record<string, unknown>) =>
    world.config({ hooks: hookConfig, env: { required: [], file: join(world.project, 'hooks.env') } });

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    logFile = join(world.sshd!.workDir, 'hooks.log');
    writeFileSync(logFile, '');
    // Host hooks run as the unprivileged SSH user, local ones as this process: both append.
    chownSync(logFile, world.sshd!.uid, world.sshd!.gid);
    writeFileSync(join(world.project, 'hooks.env'), 'HOOK_SECRET=s3cret\n');
    const { context } = world.context();
    const first = await deploy(context, { skipValidate: true });
    expect(first.error).toBeUndefined();
    v1 = first.release!;
  }, 120_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('a deploy runs each hook once, in order, with the documented environment', async () => {
    writeFileSync(logFile, '');
    world.editServer((text) => `${text}\n# v2\n`);
    const { context, events } = world.context({ config: configWith(hooks()) });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.error).toBeUndefined();
    const v2 = summary.release!;
    const releaseDir = join(world.hostRoot, 'releases', v2);
    const port = world.ports.green;
    expect(hookLines()).toEqual([
      'local.before deploy world world local.before',
      `beforeStart deploy ${v2} green port=${port} id=${v2} cwd=${releaseDir} secret=s3cret previous=${v1}`,
      `afterSwitch deploy ${v2} served=${v2} old=stopped cwd=${releaseDir}`,
      `local.after deploy ok release=${v2} previous=${v1} error=`,
    ]);
    expect(stepOrder(events)).toEqual(['hooks.local.before', 'hooks.beforeStart', 'hooks.afterSwitch', 'hooks.local.after']);
    // Declared up front, in the same order, for the checklist.
    const declared = events.find((event) => event.kind === 'run:start');
    const ids = declared?.kind === 'run:start' ? declared.steps.map((step) => step.id) : [];
    expect(ids.filter((id) => id.startsWith('hooks.'))).toEqual(stepOrder(events));
    expect(ids.indexOf('hooks.beforeStart')).toBe(ids.indexOf('start') - 1);
    expect(ids.indexOf('hooks.afterSwitch')).toBe(ids.indexOf('drain') + 1);
  }, 120_000);

  it('a rollback runs the same hooks, told it is a rollback', async () => {
    writeFileSync(logFile, '');
    const { context } = world.context({ config: configWith(hooks()) });
    const summary = await rollback(context);
    expect(summary.error).toBeUndefined();
    expect(summary.release).toBe(v1);
    const lines = hookLines();
    expect(lines.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual([
      'local.before rollback',
      'beforeStart rollback',
      'afterSwitch rollback',
      'local.after rollback',
    ]);
    expect(lines[1]).toContain(`cwd=${join(world.hostRoot, 'releases', v1)} `);
    expect(lines[2]).toContain(`served=${v1} old=stopped`);
    expect(await servedRelease()).toBe(v1);
  }, 120_000);

  it('a failing beforeStart stops the deploy with the old release serving, and names the hook with its last lines', async () => {
    writeFileSync(logFile, '');
    const stateBefore = readFileSync(join(world.hostRoot, 'state.json'), 'utf8');
    const state = JSON.parse(stateBefore) as { active: { colour: string; release: string } };
    const idle = state.active.colour === 'blue' ? 'green' : 'blue';
    const failing = hooks({ beforeStart: 'echo "migrating to 42"; echo "migration 42 failed: column exists" >&2; exit 3' });
    world.editServer((text) => `${text}\n# v3\n`);
    const { context, events } = world.context({ config: configWith(failing) });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.ok).toBe(false);
    expect(summary.exitCode).toBe(1);
    expect(summary.error).toMatchObject({ step: 'hooks.beforeStart', message: 'hooks.beforeStart exited 3.' });
    const failed = events.find((event) => event.kind === 'step:failed' && event.step === 'hooks.beforeStart');
    expect(failed?.kind === 'step:failed' ? failed.details : []).toEqual([
      'last lines of hooks.beforeStart:',
      '  migrating to 42',
      '  migration 42 failed: column exists',
    ]);
    // The new colour never started; traffic, state and the old server are as they were.
    expect(events.some((event) => event.kind === 'step:start' && event.step === 'start')).toBe(false);
    expect(existsSync(join(world.hostRoot, 'run', `${idle}.pid`))).toBe(false);
    // The pid file holds `<pid> <start time> <token>`.
    const activePid = Number.parseInt(readFileSync(join(world.hostRoot, 'run', `${state.active.colour}.pid`), 'utf8'), 10);
    expect(processRunning(activePid)).toBe(true);
    expect(await servedRelease()).toBe(state.active.release);
    expect(readFileSync(join(world.hostRoot, 'state.json'), 'utf8')).toBe(stateBefore);
    expect(existsSync(join(world.hostRoot, 'releases', summary.release!, '.mcp-deploy', 'failed.json'))).toBe(true);
    // local.after still ran, told what happened.
    expect(hookLines()).toEqual([
      'local.before deploy world world local.before',
      `local.after deploy rolled-back release=${summary.release} previous=${state.active.release} error=hooks.beforeStart`,
    ]);
  }, 120_000);

  it('a hook that overruns its time is stopped, and a failing local.before changes nothing on the host', async () => {
    const auditBefore = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8');
    const slow = hooks({ local: { before: { command: 'echo waiting for the VPN; sleep 30', timeoutSeconds: 1 } } });
    const { context, events } = world.context({ config: configWith(slow) });
    const summary = await deploy(context, { skipValidate: true });
    expect(summary.error).toMatchObject({ step: 'hooks.local.before', message: expect.stringContaining('did not finish within 1 s') });
    const failed = events.find((event) => event.kind === 'step:failed' && event.step === 'hooks.local.before');
    expect(JSON.stringify(failed)).toContain('waiting for the VPN');
    expect(events.some((event) => event.kind === 'step:start' && event.step === 'connect')).toBe(false);
    expect(readFileSync(join(world.hostRoot, 'audit.log'), 'utf8')).toBe(auditBefore);
  }, 60_000);
});
