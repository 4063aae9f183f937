import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nginxSkipReason } from '../harness/index.js';
import { isResetBeforeResponse } from './traffic.js';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * API keys at the edge, through the real binary, a real nginx and the example server: nginx
 * refuses MCP requests without an accepted key (401, WWW-Authenticate: Bearer), a rotation moves a
 * looping client from the old key to the new one without a failed call, a revoked key is refused
 * at once, a rotated key is dropped by the first run after its overlap, verify gets through with
 * mcp-deploy's own key, and no key appears anywhere but where it must (a canary over every
 * output and every file the tool writes).
 */

const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const skip = await nginxSkipReason();

type Ran = { readonly args: readonly string[]; readonly stdout: string; readonly stderr: string; readonly exitCode: number };

describe.skipIf(skip !== undefined)('API keys at the edge (auth.apiKeys)', () => {
  let world: World;
  let configFile: string;
  const runs: Ran[] = [];
  const cli = async (...args: string[]): Promise<Ran> => {
    const result = await execa(process.execPath, [bin, ...args, '--config', configFile], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1' },
      timeout: 120_000,
    });
    const ran = { args, stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode ?? -1 };
    runs.push(ran);
    return ran;
  };
  /** The key a creating command printed on its own line. */
  const keyIn = (ran: Ran): string => {
    const key = ran.stdout.split('\n').find((line) => /^mcpk_[0-9a-f]{32}$/.test(line));
    if (key === undefined) throw new Error(`no key in: ${ran.stdout}\n${ran.stderr}`);
    return key;
  };
  const idIn = (ran: Ran): string => /Made (key-[0-9a-z]{6})/.exec(ran.stdout)?.[1] ?? '';

  const call = async (key: string | null, path = '/mcp') => {
    const response = await fetch(`${world.publicUrl}${path}`, {
      method: path === '/mcp' ? 'POST' : 'GET',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-06-18',
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      },
      ...(path === '/mcp' ? { body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: await response.text(), authenticate: response.headers.get('www-authenticate') };
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    configFile = writeCliConfig(world, { auth: { apiKeys: true, openPaths: ['/health'] } });
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  let first = '';
  let firstId = '';
  let second = '';

  it('deploys with keys on: verify gets through with its own key, and a request without an accepted key gets 401', async () => {
    const deployed = await cli('deploy', '--yes');
    expect(deployed.exitCode, `${deployed.stdout}\n${deployed.stderr}`).toBe(0);
    expect(deployed.stdout).toMatch(/✔ Settle the API keys/);
    expect(deployed.stdout).toMatch(/✔ Verify through/);

    const added = await cli('keys', 'add', '--label', 'ci');
    expect(added.exitCode, `${added.stdout}\n${added.stderr}`).toBe(0);
    first = keyIn(added);
    firstId = idIn(added);
    expect(added.stdout).toContain('nginx has reloaded with it');

    const without = await call(null);
    expect(without.status).toBe(401);
    expect(without.authenticate).toMatch(/^Bearer /);
    expect(JSON.parse(without.body)).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
    expect((await call(`mcpk_${'0'.repeat(32)}`)).status).toBe(401);
    expect((await call(first.slice(0, -1))).status).toBe(401);
    const withKey = await call(first);
    expect(withKey.status).toBe(200);
    expect(withKey.body).toContain('list_concepts');
    // auth.openPaths: the health route stays open by choice.
    expect((await call(null, '/health')).status).toBe(200);
  }, 180_000);

  it('rotates a key while a client loops: 0 failed calls across the overlap, and the old key is refused once revoked', async () => {
    let current = first;
    const calls = { old: 0, new: 0, failed: [] as string[] };
    let stop = false;
    const loop = (async () => {
      // Bounded: it stops when told, or after 5000 calls whatever happens.
      for (let index = 0; index < 5000 && !stop; index += 1) {
        const key = current;
        // As traffic.ts: a reset before any answer (nginx closing a kept-alive connection at its
        // reload) reached no server and is sent again once, as a careful client does.
        const answer = await call(key)
          .catch((error: unknown) => (isResetBeforeResponse(error) ? call(key) : Promise.reject(error)))
          .catch((error: unknown) => ({
            status: -1,
            body: `${String(error)} ${String((error as { cause?: unknown }).cause)}`,
            authenticate: null,
          }));
        if (answer.status !== 200 || !answer.body.includes('list_concepts'))
          calls.failed.push(`${answer.status} ${answer.body.slice(0, 100)}`);
        if (key === first) calls.old += 1;
        else calls.new += 1;
      }
    })();
    const rotated = await cli('keys', 'rotate', firstId, '--overlap', '1h');
    expect(rotated.exitCode, `${rotated.stdout}\n${rotated.stderr}`).toBe(0);
    second = keyIn(rotated);
    const secondId = idIn(rotated);
    const oldCalls = calls.old;
    // The old key keeps working through the overlap: more calls with it after the rotation.
    while (calls.old < oldCalls + 20) await sleep(5);
    current = second;
    while (calls.new < 20) await sleep(5);
    stop = true;
    await loop;
    expect(calls.failed).toEqual([]);
    expect(calls.old).toBeGreaterThan(20);
    expect(calls.new).toBeGreaterThanOrEqual(20);

    const listed = await cli('keys', 'list');
    expect(listed.stdout).toMatch(new RegExp(`${firstId}\\s+ci\\s+\\S+\\s+until `));
    expect(listed.stdout).toContain(secondId);

    const revoked = await cli('keys', 'revoke', firstId);
    expect(revoked.exitCode, `${revoked.stdout}\n${revoked.stderr}`).toBe(0);
    expect((await call(first)).status).toBe(401);
    expect((await call(second)).status).toBe(200);
  }, 180_000);

  it('drops a rotated key at the first run after its overlap: a deploy, which verifies with its own key', async () => {
    const listed = await cli('keys', 'list', '--json');
    const keys = (JSON.parse(listed.stdout) as { keys: { id: string; kind: string }[] }).keys;
    const clientId = keys.find((key) => key.kind === 'client')?.id ?? '';
    const rotated = await cli('keys', 'rotate', clientId, '--overlap', '1s');
    const third = keyIn(rotated);
    expect(rotated.exitCode).toBe(0);
    // Both are accepted until the overlap is over and a run drops the old one.
    const old = second;
    expect((await call(old)).status).toBe(200);
    await sleep(2_100);
    world.editServer((text) => text.replace('"status": "ok"', '"status": "ok", "edge": 2'));
    const deployed = await cli('deploy', '--yes');
    expect(deployed.exitCode, `${deployed.stdout}\n${deployed.stderr}`).toBe(0);
    expect(deployed.stdout).toMatch(new RegExp(`dropped ${clientId} \\(overlap over\\)`));
    expect((await call(old)).status).toBe(401);
    expect((await call(third)).status).toBe(200);
  }, 180_000);

  it('leaves no key in any output or file it writes but the keys file (mode 600) and the one line that made it', async () => {
    // The commands that read and report on the host have their say too.
    for (const args of [
      ['status', '--json'],
      ['audit', '--json'],
      ['keys', 'list'],
      ['config', '--json'],
      ['releases', '--json'],
    ]) {
      const ran = await cli(...args);
      expect(ran.exitCode, `${args.join(' ')}: ${ran.stderr}`).toBe(0);
    }
    const audit = runs.find((ran) => ran.args[0] === 'audit')?.stdout ?? '';
    expect(audit).toMatch(/"operation":\s*"keys"/);
    const keysFile = join(world.hostRoot, 'nginx-keys.conf');
    const secrets = [...readFileSync(keysFile, 'utf8').matchAll(/mcpk_[0-9a-f]{32}/g)].map((match) => match[0]);
    const printed = runs.flatMap((ran) => ran.stdout.split('\n')).filter((line) => /^mcpk_[0-9a-f]{32}$/.test(line));
    const all = [...new Set([...secrets, ...printed])];
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);

    for (const secret of all) {
      const seen = runs.filter((ran) => `${ran.stdout}\n${ran.stderr}`.includes(secret));
      // Printed once, by the command that made it (the probe key: never).
      expect(seen.length).toBeLessThanOrEqual(1);
      if (seen[0]) expect(['add', 'rotate']).toContain(seen[0].args[1]);
    }
    const files = [...walk(world.hostRoot), ...walk(world.nginx.prefix), ...walk(world.project)].filter((file) => file !== keysFile);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(file).toString('latin1');
      for (const secret of all) expect(text.includes(secret), `${file} holds a key`).toBe(false);
    }
    // The server never saw one either: nginx drops the Authorization header before proxying.
  }, 60_000);
});

function walk(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...walk(path));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}
