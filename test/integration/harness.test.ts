import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import { once } from 'node:events';
import { command } from '../../source/remote/quote.js';
import {
  childPids,
  freePort,
  nginxSkipReason,
  pidAlive,
  sshdSkipReason,
  startLatencyRelay,
  startNginx,
  startSshd,
  upstreamConf,
  waitFor,
  type NginxHandle,
  type SshdHandle,
} from '../harness/index.js';

const sshdSkip = await sshdSkipReason();
const nginxSkip = await nginxSkipReason();
if (sshdSkip) console.warn(`SKIPPING sshd harness tests: ${sshdSkip}`);
if (nginxSkip) console.warn(`SKIPPING nginx harness tests: ${nginxSkip}`);

function run(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 255, stdout, stderr });
    });
  });
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

describe.skipIf(sshdSkip !== undefined)(`sshd harness${sshdSkip ? ` (skipped: ${sshdSkip})` : ''}`, () => {
  let sshd: SshdHandle;

  beforeAll(async () => {
    sshd = await startSshd();
  });

  afterAll(async () => {
    await sshd?.stop();
  });

  it('accepts the OpenSSH client with strict host key checking', async () => {
    const result = await run('ssh', [...sshd.sshArgs(), 'id -un; pwd']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n').slice(0, 2)).toEqual([sshd.user, sshd.homeDir]);
  });

  it('gives the user a work dir it can write to', async () => {
    const result = await run('ssh', [...sshd.sshArgs(), `touch ${sshd.workDir}/probe && echo ok`]);
    expect(result.stdout.trim()).toBe('ok');
    expect(existsSync(`${sshd.workDir}/probe`)).toBe(true);
  });

  it('reports the host key fingerprint the client sees', async () => {
    const result = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', sshd.knownHostsFile]);
    expect(result.stdout).toContain(sshd.hostKeyFingerprint);
    expect(sshd.hostKeyFingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('cuts open connections with killSessions', async () => {
    const session = run('ssh', [...sshd.sshArgs(), 'sleep 30']);
    await waitFor('a session process', () => childPids(sshd.pid).length > 0, { timeoutMs: 10_000 });
    const killed = sshd.killSessions();
    expect(killed.length).toBeGreaterThan(0);
    const result = await session;
    expect(result.code).toBe(255);
  });

  it('stops: the listener is gone and the temp dir removed', async () => {
    const extra = await startSshd();
    onTestFinished(() => extra.stop());
    expect(pidAlive(extra.pid)).toBe(true);
    await extra.stop();
    expect(pidAlive(extra.pid)).toBe(false);
    expect(existsSync(extra.dir)).toBe(false);
    await extra.stop(); // idempotent
  });
});

describe.skipIf(nginxSkip !== undefined)(`nginx harness${nginxSkip ? ` (skipped: ${nginxSkip})` : ''}`, () => {
  let nginx: NginxHandle;
  let backend: Server | undefined;

  beforeAll(async () => {
    nginx = await startNginx();
  });

  afterAll(async () => {
    await nginx?.stop();
    await new Promise<void>((resolve) => (backend ? backend.close(() => resolve()) : resolve()));
  });

  it('answers 502 while nothing listens upstream', async () => {
    const response = await get(nginx.port);
    expect(response.status).toBe(502);
  });

  it('passes its own test command', async () => {
    const [file, ...args] = nginx.testCommand;
    const result = await run(file!, args);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain('test is successful');
  });

  it('reloads onto a rewritten upstream file', async () => {
    const port = await freePort();
    backend = createServer((_req, res) => res.end('from backend'));
    await new Promise<void>((resolve) => backend!.listen(port, '127.0.0.1', resolve));
    const masterBefore = nginx.pid();
    await writeFile(nginx.upstreamFile, upstreamConf(nginx.upstreamName, port));
    const [file, ...args] = nginx.reloadCommand;
    const result = await run(file!, args);
    expect(result.code, result.stderr).toBe(0);
    // Reload is asynchronous: new workers take over shortly after the signal.
    const response = await waitFor('nginx to proxy to the new backend', async () => {
      const answer = await get(nginx.port);
      return answer.status === 200 && answer;
    });
    expect(response.body).toBe('from backend');
    expect(nginx.pid()).toBe(masterBefore);
  });

  it('stops: master and workers are gone', async () => {
    const extra = await startNginx({ upstreamName: 'other_one' });
    onTestFinished(() => extra.stop());
    const master = extra.pid();
    expect(master).toBeDefined();
    const workers = childPids(master!);
    expect(workers.length).toBe(1);
    await extra.stop();
    expect(pidAlive(master!)).toBe(false);
    for (const worker of workers) expect(pidAlive(worker)).toBe(false);
    expect(existsSync(extra.prefix)).toBe(false);
    expect(extra.pid()).toBeUndefined();
  });
});

describe.skipIf(sshdSkip !== undefined || nginxSkip !== undefined)('nginx owned by the SSH user', () => {
  let sshd: SshdHandle;
  let nginx: NginxHandle;

  beforeAll(async () => {
    sshd = await startSshd();
    nginx = await startNginx({ owner: { uid: sshd.uid, gid: sshd.gid } });
  });

  afterAll(async () => {
    await nginx?.stop();
    await sshd?.stop();
  });

  it('lets a deploy logged in as that user rewrite the upstream, test and reload', async () => {
    const port = await freePort();
    const green = createServer((_req, res) => res.end('green'));
    await new Promise<void>((resolve) => green.listen(port, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => green.close(() => resolve())));
    const rewrite = command(['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', upstreamConf(nginx.upstreamName, port), nginx.upstreamFile]);
    const steps = [rewrite, command(nginx.testCommand), command(nginx.reloadCommand)];
    for (const step of steps) {
      const result = await run('ssh', [...sshd.sshArgs(), step]);
      expect(result.code, `${step}: ${result.stderr}`).toBe(0);
    }
    const response = await waitFor('nginx to proxy to the new backend', async () => {
      const answer = await get(nginx.port);
      return answer.status === 200 && answer;
    });
    expect(response.body).toBe('green');
  });
});

describe('latency relay', () => {
  let echo: ReturnType<typeof createNetServer>;
  let echoPort = 0;

  beforeAll(async () => {
    echo = createNetServer((socket) => {
      socket.on('error', () => {
        // a cut reaches the echo server as a reset
      });
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    const address = echo.address();
    echoPort = typeof address === 'object' && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  /** Sends each message and waits for its echo: one round trip each. */
  async function exchange(port: number, messages: readonly string[]): Promise<string[]> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const answers: string[] = [];
    for (const message of messages) {
      socket.write(message);
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      answers.push(chunk.toString());
    }
    socket.end();
    await once(socket, 'close');
    return answers;
  }

  it('delivers everything in order both ways, and counts the bytes and round trips', async () => {
    const relay = await startLatencyRelay(echoPort, { rttMs: 20 });
    try {
      const messages = ['one', 'two two', 'three three three'];
      expect(await exchange(relay.port, messages)).toEqual(messages);
      const bytes = messages.join('').length;
      expect(relay.counters()).toEqual({ up: bytes, down: bytes, roundTrips: 3, connections: 1 });
      relay.resetCounters();
      expect(relay.counters()).toEqual({ up: 0, down: 0, roundTrips: 0, connections: 0 });
    } finally {
      await relay.close();
    }
  });

  it('holds a chunk back for the round-trip time: a direct echo sent later arrives first', async () => {
    const relay = await startLatencyRelay(echoPort, { rttMs: 300 });
    try {
      const order: string[] = [];
      const slow = exchange(relay.port, ['through the relay']).then(() => order.push('relay'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      await exchange(echoPort, ['direct']).then(() => order.push('direct'));
      await slow;
      expect(order).toEqual(['direct', 'relay']);
    } finally {
      await relay.close();
    }
  });

  it('cuts every connection once a number of bytes went up', async () => {
    const relay = await startLatencyRelay(echoPort);
    try {
      const socket = connect(relay.port, '127.0.0.1');
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.on('error', () => {});
      const cut = relay.cutAfterUpBytes(1000);
      await once(socket, 'connect');
      socket.write(Buffer.alloc(400));
      socket.write(Buffer.alloc(800));
      await cut;
      await closed;
      expect(relay.counters().up).toBe(1200);
      expect(relay.counters().down).toBeLessThanOrEqual(400);
    } finally {
      await relay.close();
    }
  });
});
