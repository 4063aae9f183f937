import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * Secrets stay secret: the values of env.required, of the env file and of notification URLs and
 * tokens appear nowhere the tool writes — its output, --json summary, audit log, state, release
 * metadata, logs — except the env file on the host, which is mode 600 outside every release.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const canary = 'C4NARY-s3cr3t-7f1e';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('secrets never leak', () => {
  let world: World;
  let receiver: Server;
  let received = '';
  const bodies: string[] = [];
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    // A webhook receiver that fails: the failure is reported, and must not echo the URL's secret.
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received += body;
        bodies.push(body);
        response.writeHead(500).end(`no thanks ${request.url}`);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await world?.stop();
  });

  it('a deploy with secrets in env.required, the env file and notify writes none of them anywhere', async () => {
    const port = (receiver.address() as { port: number }).port;
    writeFileSync(join(world.project, '.env.production'), `API_TOKEN=${canary}-file\nOTHER="quoted ${canary}-quoted"\n`);
    const config = writeCliConfig(world, {
      env: { required: ['DB_PASSWORD', 'API_TOKEN'], file: '.env.production' },
      exclude: ['.env.production', '*.mcpdeployrc.json'],
      notify: {
        webhook: { url: `http://127.0.0.1:${port}/hook/${canary}-url?token=${canary}-query`, secret: `${canary}-hmac` },
        timeoutSeconds: 2,
      },
    });
    const result = await execa(process.execPath, [bin, '--yes', '--json', '--verbose', '--config', config], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1', DB_PASSWORD: `${canary}-env` },
      timeout: 120_000,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).ok).toBe(true);
    expect(result.stderr).toMatch(/notification to webhook failed/);
    expect(result.stdout + result.stderr).not.toContain(canary);

    // The release's own environment file (shared/env/<release>.env) holds them, and nothing else does.
    const state = JSON.parse(readFileSync(join(world.hostRoot, 'state.json'), 'utf8'));
    const envFile = join(world.hostRoot, 'shared', 'env', `${state.active.release}.env`);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(envFile, 'utf8')).toContain(`${canary}-file`);
    // Both reach the running server: from the file, and from the deploying environment.
    // The pid file holds `<pid> <start time> <token>`.
    const pid = readFileSync(join(world.hostRoot, 'run', `${state.active.colour}.pid`), 'utf8').split(' ')[0];
    const serverEnv = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    expect(serverEnv).toContain(`API_TOKEN=${canary}-file`);
    expect(serverEnv).toContain(`DB_PASSWORD=${canary}-env`);
    expect(serverEnv).toContain(`OTHER=quoted ${canary}-quoted`);
    const leaks = filesUnder(world.hostRoot).filter((file) => file !== envFile && readFileSync(file).includes(canary));
    expect(leaks).toEqual([]);
    // The webhook body (sent to the receiver) carries no secret either; the URL is the receiver's own business.
    expect(received).not.toBe('');
    expect(received).not.toContain(canary);
    // The outcome message carries the very record the run appended to the host's audit log.
    const success = bodies.map((body) => JSON.parse(body)).find((body) => body.event === 'success');
    const auditLines = readFileSync(join(world.hostRoot, 'audit.log'), 'utf8').trim().split('\n');
    expect(success.audit).toEqual(JSON.parse(auditLines.at(-1)!));
  }, 180_000);
});
