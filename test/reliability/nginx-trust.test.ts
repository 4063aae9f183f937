import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pidsWithCommandLine, sshdSkipReason } from '../harness/index.js';
import { exec } from '../harness/system.js';
import { createWorld, type World } from '../e2e/world.js';
import { startTraffic } from '../e2e/traffic.js';
import { runCli, startCli, type CliEnd } from './cli-process.js';
import { cliConfigFile, colourPid, hostFacts, judge, killStrays, type Colour } from './host-facts.js';
import { processRunning } from '../e2e/world.js';

/**
 * What mcp-deploy believes about nginx, checked against what nginx does (issue #13, items 4 and
 * 5), over SSH as the unprivileged deploy user:
 * - an nginx.test or reload that hangs past nginx.timeoutSeconds is a failure like any other: the
 *   includes are put back, so the next reload (anyone's) keeps the old release serving, and
 *   `status` says what is true;
 * - verify needs proof that the public URL is served by the new colour; without any (a site that
 *   does not read the include, a server that reports no release) the cutover is undone;
 * - a drain never stops the colour nginx still sends traffic to.
 */
const skip = await sshdSkipReason();
const out = (run: CliEnd) => `${run.stdout}\n${run.stderr}`;
/** A duration no other process uses, so the hung commands this file starts can be found and ended. */
const hang = 'sleep 47.31';

describe.skipIf(skip !== undefined)(`nginx is checked, not trusted (over SSH)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  const config = (name: string, targetOverrides: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) =>
    cliConfigFile(world, name, overrides, targetOverrides);
  const nginxOf = (extra: Record<string, unknown>) => ({
    nginx: {
      upstreamFile: world.nginx.upstreamFile,
      locationFile: world.nginx.locationFile,
      sessionLog: world.nginx.sessionLog,
      upstream: world.nginx.upstreamName,
      test: [...world.nginx.testCommand],
      reload: [...world.nginx.reloadCommand],
      errorLog: world.nginx.errorLog,
      ...extra,
    },
  });
  const deploy = (file: string, options: { fault?: string } = {}) =>
    runCli(['--yes', '--skip-validate', '--config', file], { timeoutMs: 150_000, ...options });
  const change = (note: string) => world.editServer((text) => `${text}\n# ${note}\n`);
  const reloadNginx = () => exec(world.nginx.reloadCommand[0]!, world.nginx.reloadCommand.slice(1));
  const activeColour = async (): Promise<Colour> => {
    const facts = await hostFacts(world);
    expect(judge(facts).verdict, judge(facts).detail).toBe('consistent');
    return (facts.state as { colour: Colour }).colour;
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh' });
    const first = await deploy(config('first'));
    expect(first.code, out(first)).toBe(0);
  }, 120_000);

  afterAll(async () => {
    for (const pid of pidsWithCommandLine(hang)) process.kill(pid, 'SIGKILL');
    if (world) killStrays(world);
    await world?.stop();
  });

  for (const hung of ['test', 'reload'] as const) {
    it(`an nginx.${hung} that hangs past nginx.timeoutSeconds puts the includes back: the next reload still serves the old release, and status says so`, async () => {
      const before = await activeColour();
      const included = readFileSync(world.nginx.upstreamFile, 'utf8');
      const location = readFileSync(world.nginx.locationFile, 'utf8');
      change(`hung ${hung}`);
      const run = await deploy(config(`hung-${hung}`, nginxOf({ [hung]: hang, timeoutSeconds: 2 })));
      // The includes are as they were, byte for byte
      expect(readFileSync(world.nginx.upstreamFile, 'utf8')).toBe(included);
      expect(readFileSync(world.nginx.locationFile, 'utf8')).toBe(location);
      expect(run.code, out(run)).toBe(1);
      expect(run.stdout).toMatch(hung === 'test' ? /nginx\.test did not finish: remote command timed out/ : /nginx reload did not finish/);
      expect(run.stdout).toContain(`Rolled back. Serving: release`);
      // A reload by anyone now (logrotate's, the next deploy's) keeps the old release serving
      const reloaded = await reloadNginx();
      expect(reloaded.code, reloaded.stderr).toBe(0);
      const facts = await hostFacts(world);
      expect(judge(facts).verdict, judge(facts).detail).toBe('consistent');
      expect((facts.state as { colour: Colour }).colour).toBe(before);
      // status tells the truth: nginx sends traffic to the colour state.json records, and that colour answers
      const status = await runCli(['status', '--config', config('status')], { timeoutMs: 60_000 });
      expect(status.code, out(status)).toBe(0);
      expect(status.stdout).toContain(`nginx sends traffic to: 127.0.0.1:${world.ports[before]}`);
      expect(status.stdout).toContain(`: ${before} answers (nginx's X-MCP-Deploy-Colour)`);
      expect(status.stdout).not.toContain('disagree');
    }, 120_000);
  }

  it('a drain never stops the colour nginx still sends traffic to, even when the includes say otherwise', async () => {
    const before = await activeColour();
    const includedBefore = readFileSync(world.nginx.upstreamFile, 'utf8');
    const frozen = join(world.nginx.prefix, 'frozen-upstream.conf');
    const conf = readFileSync(world.nginx.confPath, 'utf8');
    const traffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 20_000, maxMs: 120_000 });
    change('nginx stops following');
    const cli = startCli(['--yes', '--skip-validate', '--config', config('frozen')], { fault: 'drain:start:pause', timeoutMs: 150_000 });
    let end: CliEnd;
    try {
      // Given a cutover that nginx followed (verify saw the new colour), and then, before the
      // drain, an nginx that goes back to a copy of the old routing and no longer reads the include
      await cli.waitForOutput(/FAULT-PAUSE drain:start/, 90_000);
      writeFileSync(frozen, includedBefore);
      writeFileSync(world.nginx.confPath, conf.replace(`include ${world.nginx.upstreamsDir}/*.conf;`, `include ${frozen};`));
      expect((await reloadNginx()).code).toBe(0);
      cli.signal('SIGUSR2');
      end = await cli.ended;
    } finally {
      const report = await traffic.stop();
      expect(report.failures).toEqual([]);
      writeFileSync(world.nginx.confPath, conf);
    }
    // Then the old colour was left running, and the run says why
    expect(end.code, out(end)).toBe(1);
    expect(end.stdout).toContain(`nginx still sends new traffic through ${world.publicUrl} to ${before}`);
    const pid = colourPid(world.hostRoot, before);
    expect(pid !== null && processRunning(pid)).toBe(true);
    // And it is still what answers: no 502
    const health = await fetch(`${world.publicUrl}/health`);
    expect(health.status).toBe(200);
    // nginx reads the include again: the next deploy sorts the host out
    expect((await reloadNginx()).code).toBe(0);
    change('nginx follows again');
    const next = await deploy(config('after-frozen'));
    expect(next.code, out(next)).toBe(0);
    expect(judge(await hostFacts(world)).verdict).toBe('consistent');
  }, 240_000);
});

describe.skipIf(skip !== undefined)(`verify over SSH with a site that shows no colour${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let world: World;
  beforeAll(async () => {
    world = await createWorld({ transport: 'ssh', site: 'single-upstream' });
    const first = await runCli(['--yes', '--skip-validate', '--config', cliConfigFile(world, 'first')], { timeoutMs: 150_000 });
    expect(first.code, out(first)).toBe(0);
  }, 120_000);
  afterAll(async () => {
    if (world) killStrays(world);
    await world?.stop();
  });

  it('an nginx that does not read upstreamFile and an MCP-only health check: the cutover is undone, not trusted', async () => {
    // Given a config whose upstreamFile nginx never reads, and no health route that reports the release
    const elsewhere = join(world.hostRoot, 'not-read-by-nginx.conf');
    const file = cliConfigFile(
      world,
      'elsewhere',
      { health: { http: [], mcp: { path: '/mcp', expectTools: ['list_concepts'] }, timeoutSeconds: 15 } },
      {
        nginx: {
          upstreamFile: elsewhere,
          upstream: world.nginx.upstreamName,
          test: [...world.nginx.testCommand],
          reload: [...world.nginx.reloadCommand],
        },
      },
    );
    const traffic = startTraffic(world.publicUrl, { clients: 2, maxRequests: 20_000, maxMs: 120_000 });
    world.editServer((text) => `${text}\n# not read\n`);
    let run: CliEnd;
    try {
      run = await runCli(['--yes', '--skip-validate', '--config', file], { timeoutMs: 150_000 });
    } finally {
      const report = await traffic.stop();
      expect(report.failures).toEqual([]);
    }
    // Then verify fails for want of proof, traffic stays on the old release, which keeps running
    expect(run.code, out(run)).toBe(1);
    expect(run.stdout).toContain(`nginx's configuration does not read ${elsewhere}`);
    expect(run.stdout).toContain('Rolled back.');
    const facts = await hostFacts(world);
    expect(judge(facts).verdict, judge(facts).detail).toBe('consistent');
    const response = await fetch(`${world.publicUrl}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(response.status).toBe(200);
  }, 180_000);
});
