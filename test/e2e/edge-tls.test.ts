import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { renderTlsSite } from '../../source/ops/tls-site.js';
import { freePort, nginxSkipReason, sshdSkipReason } from '../harness/index.js';
import { pebbleSkipReason, startPebble, type PebbleHandle } from '../harness/pebble.js';
import { exec, isExecutable } from '../harness/system.js';
import { createWorld, writeCliConfig, type World } from './world.js';

/**
 * HTTPS with a real certificate, everything on 127.0.0.1: Pebble is the CA, certbot (as the SSH
 * user, its state in a folder of its own) gets the certificate through `mcp-deploy setup --tls`,
 * nginx serves the site setup shows, and a deploy whose publicUrl is https verifies through it
 * with Pebble's root trusted. Doctor then reads the certificate as a client sees it.
 */

const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const skip =
  (await nginxSkipReason()) ??
  (await sshdSkipReason()) ??
  pebbleSkipReason() ??
  (process.env.CI || isExecutable('/usr/bin/crontab') ? undefined : '/usr/bin/crontab is not installed (apt-get install cron)');

describe.skipIf(skip !== undefined)('HTTPS at the edge (setup --tls with certbot and Pebble)', () => {
  let world: World;
  let pebble: PebbleHandle;
  let configFile: string;
  let tlsPort: number;
  let httpPort: number;
  const cli = async (args: string[], env: Record<string, string> = {}) => {
    const result = await execa(process.execPath, [bin, ...args, '--config', configFile], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1', ...env },
      timeout: 300_000,
    });
    return { ...result, all: `${result.stdout}\n${result.stderr}` };
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    pebble = await startPebble();
    // certbot runs as the SSH user: it must read the CA file that lets it talk to Pebble.
    chmodSync(dirname(pebble.listenerCa), 0o755);
    [tlsPort, httpPort] = [await freePort(), await freePort()];
    const stateDir = join(world.sshd!.workDir, 'certbot');
    configFile = writeCliConfig(
      world,
      {
        acme: {
          server: pebble.directory,
          certbot: ['env', `REQUESTS_CA_BUNDLE=${pebble.listenerCa}`, 'certbot'],
          stateDir,
          httpPort,
        },
      },
      { publicUrl: `https://localhost:${tlsPort}` },
    );
  }, 120_000);
  afterAll(async () => {
    // The test user outlives the test: its crontab must not keep a line for a folder that is gone.
    if (world?.sshd) await exec('crontab', ['-u', world.sshd.user, '-r']);
    await world?.stop();
    await pebble?.stop();
  });

  it('setup --tls gets a certificate from the ACME server, and nginx serves MCP over HTTPS with it', async () => {
    const setup = await cli(['setup', '--tls', '--yes']);
    expect(setup.exitCode, setup.all).toBe(0);
    expect(setup.stdout).toMatch(/certbot certonly --webroot/);
    expect(setup.stdout).toMatch(/✔ obtained +certificate for localhost/);
    expect(setup.stdout).toMatch(/renewal: .*setup adds this cron line/);
    expect(setup.stdout).toMatch(/✔ renewal +the renewal cron line is in the SSH user's crontab/);
    const config = parseConfig(await readFile(configFile, 'utf8'), configFile, {});
    const target = selectTarget(config, undefined);
    expect(existsSync(join(target.path, 'nginx-tls.conf'))).toBe(true);

    // The operator adds the site setup showed (here: on 127.0.0.1 only), and reloads nginx.
    const site = renderTlsSite(config, target)
      .join('\n')
      .replace(/listen (\d+)/g, 'listen 127.0.0.1:$1');
    writeFileSync(join(world.nginx.sitesDir, 'tls.conf'), site);
    const reload = await exec(world.nginx.reloadCommand[0]!, world.nginx.reloadCommand.slice(1));
    expect(reload.code, reload.stderr).toBe(0);

    const deployed = await cli(['deploy', '--yes'], { NODE_EXTRA_CA_CERTS: pebble.rootFile });
    expect(deployed.exitCode, deployed.all).toBe(0);
    expect(deployed.stdout).toContain(`✔ Verify through https://localhost:${tlsPort}`);

    const root = await readFile(pebble.rootFile);
    const answer = await post(`https://localhost:${tlsPort}/mcp`, root);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('list_concepts');
  }, 300_000);

  it('doctor reads the certificate as a client does: covers the domain, trusted with the CA, plain HTTP redirects but not the MCP path', async () => {
    const trusted = await cli(['doctor'], { NODE_EXTRA_CA_CERTS: pebble.rootFile });
    expect(trusted.stdout).toMatch(/✔ tls certificate.*covers localhost, trusted, expires \d{4}-\d\d-\d\d/);
    expect(trusted.stdout).toMatch(
      new RegExp(
        `✔ http redirect.*http://localhost:${httpPort}/ → https://localhost:${tlsPort}/ \\(301\\); /mcp is refused over plain HTTP \\(403`,
      ),
    );
    expect(trusted.stdout).toMatch(/✔ tls renewal.*a cron line renews the certificates in /);

    const untrusted = await cli(['doctor']);
    expect(untrusted.stdout).toMatch(/✖ tls certificate.*covers localhost, expires .*, but is not trusted here/);
  }, 120_000);
});

function post(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    const req = request(
      url,
      {
        method: 'POST',
        ca,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
          'content-length': Buffer.byteLength(body),
        },
        timeout: 10_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
