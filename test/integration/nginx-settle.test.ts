import { execFileSync } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTestReload } from '../../source/engine/nginx-apply-command.js';
import { LocalTransport } from '../../source/remote/local-transport.js';
import { freePort, nginxSkipReason, startNginx, upstreamConf, type NginxHandle } from '../harness/index.js';

/**
 * After a reload, the switch's own command waits on the host until nginx's old workers have
 * stopped accepting (source/engine/nginx-settle.ts), so verify and the drain need not wait a
 * fixed second. A real nginx, with a request held open on an old worker: the wait must end while
 * that request is still in flight (the worker no longer accepts, but it still serves it), and
 * the request must then finish.
 */

const skip = await nginxSkipReason();

type Worker = { readonly pid: number; readonly state: 'serving' | 'quitting' };

/** The master's workers as `ps` shows them. */
function workersOf(master: number): Worker[] {
  return execFileSync('ps', ['-e', '-o', 'pid=', '-o', 'ppid=', '-o', 'args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => Number(fields[1]) === master && fields[2] === 'nginx:' && fields[3] === 'worker')
    .map((fields) => ({ pid: Number(fields[0]), state: fields[5] === 'is' ? 'quitting' : 'serving' }));
}

describe.skipIf(skip !== undefined)('nginx settle after a reload', () => {
  let nginx: NginxHandle;
  let backend: Server;
  let backendPort: number;
  const held: ServerResponse[] = [];
  const transport = new LocalTransport();

  beforeAll(async () => {
    backendPort = await freePort();
    backend = createServer((request, response) => {
      if (request.url === '/hold') held.push(response);
      else response.end('ok');
    });
    await new Promise<void>((resolve) => backend.listen(backendPort, '127.0.0.1', resolve));
    nginx = await startNginx({ upstreamName: 'settle', upstreamPort: backendPort });
  });

  afterAll(async () => {
    for (const response of held) response.end();
    await nginx?.stop();
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
  });

  const rewrite = (pidFile = nginx.pidFile) =>
    writeTestReload(
      transport,
      [{ path: nginx.upstreamFile, text: upstreamConf('settle', backendPort), mode: 0o644 }],
      [...nginx.testCommand],
      [...nginx.reloadCommand],
      30_000,
      pidFile,
    );

  it('says the old workers stopped accepting while a request they hold is still in flight, and that request finishes', async () => {
    const master = nginx.pid()!;
    const before = workersOf(master).filter((worker) => worker.state === 'serving');
    expect(before.length).toBeGreaterThan(0);
    let answered = false;
    const inFlight = fetch(`http://127.0.0.1:${nginx.port}/hold`).then(async (response) => {
      answered = true;
      return { status: response.status, body: await response.text() };
    });
    await waitForHeld(held, 1);

    const applied = await rewrite();
    expect(applied.stage).toBe('reload');
    if (applied.stage !== 'reload') return;
    expect(applied.reload).toMatchObject({ kind: 'exit', code: 0 });
    expect(applied.settled).toBe(true);

    // Every old worker quits or is gone; the master has new ones; the held request is still open.
    const now = workersOf(master);
    for (const old of before) expect(now.find((worker) => worker.pid === old.pid)?.state ?? 'gone').not.toBe('serving');
    expect(now.some((worker) => worker.state === 'serving' && !before.some((old) => old.pid === worker.pid))).toBe(true);
    expect(answered).toBe(false);
    expect(await (await fetch(`http://127.0.0.1:${nginx.port}/`)).text()).toBe('ok');

    held.shift()!.end('finished on the old worker');
    expect(await inFlight).toEqual({ status: 200, body: 'finished on the old worker' });
  });

  it('says nothing when the pid file cannot be read, and still reloads', async () => {
    const applied = await rewrite(`${nginx.pidFile}.missing`);
    expect(applied).toMatchObject({ stage: 'reload', reload: { kind: 'exit', code: 0 }, settled: false });
  });

  it('says nothing when the pid file names a process that is not an nginx master', async () => {
    const applied = await rewrite('/proc/self/stat');
    expect(applied).toMatchObject({ stage: 'reload', reload: { kind: 'exit', code: 0 }, settled: false });
  });
});

async function waitForHeld(held: readonly ServerResponse[], count: number): Promise<void> {
  for (let i = 0; i < 200 && held.length < count; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(held.length).toBeGreaterThanOrEqual(count);
}
