import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/index.js';
import { createWorld, exampleServer, writeCliConfig, type World } from './world.js';

/** The real binary, as an operator or a CI job runs it: output, exit codes, --json. */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const exampleConfig = join(exampleServer, '.mcpdeployrc.json');

function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [bin, ...args], {
    reject: false,
    cwd: options.cwd ?? process.cwd(),
    env: { CI: 'true', NO_COLOR: '1', ...options.env },
    timeout: 120_000,
  });
}

describe('mcp-deploy validate (the binary)', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'mcpd-cli-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const brokenCopy = (name: string, file: string, content: string) => {
    const dir = join(scratch, name);
    cpSync(exampleServer, dir, { recursive: true, filter: (path) => !path.includes('__pycache__') });
    writeFileSync(join(dir, file), content);
    return join(dir, '.mcpdeployrc.json');
  };

  it('passes on the example server, one line per check, exit 0', async () => {
    const result = await cli(['validate', '--config', exampleConfig]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('✔ Python syntax');
    expect(result.stdout).toContain('✔ Ontologies parse as Turtle');
    expect(result.stdout).toMatch(/✔ Server starts and answers MCP — tools: list_concepts, get_concept, search_guidelines \(\d/);
  });

  it('fails on a broken .py with file:line, exit 1', async () => {
    const config = brokenCopy('bad-py', 'helpers.py', 'def ok():\n    return 1\n\ndef broken(:\n    pass\n');
    const result = await cli(['validate', '--config', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/✖ Python syntax/);
    expect(result.stdout).toMatch(/helpers\.py:4/);
  });

  it('fails on a broken .ttl with file:line, exit 1', async () => {
    const config = brokenCopy(
      'bad-ttl',
      'ontologies/broken.ttl',
      '@prefix ex: <http://example.org/> .\n\nex:a ex:b ex:c .\nex:d ex:e "unterminated .\n',
    );
    const result = await cli(['validate', '--config', config]);
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/✖ Ontologies parse as Turtle/);
    expect(result.stdout).toMatch(/ontologies\/broken\.ttl:4/);
  });

  it('reports a config error with the key path and exit 2', async () => {
    const dir = join(scratch, 'bad-config');
    cpSync(exampleServer, dir, { recursive: true, filter: (path) => !path.includes('__pycache__') });
    const file = join(dir, '.mcpdeployrc.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"keepReleases": 3', '"keepReleases": "three"'));
    const result = await cli(['validate', '--config', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(`${file}: keepReleases: expected number, got "three"`);
  });

  it('says what is wrong with the command line, exit 2: an unknown command with the one it looks like', async () => {
    const result = await cli(['deplyo']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('Unknown command "deplyo". Did you mean "deploy"?');
    expect(result.stderr).not.toContain('too many arguments');
  });

  it('with --json, answers a usage mistake and a config error with one JSON document and exit 2', async () => {
    // An unknown option, then a config that does not load: stdout holds exactly one document each time
    const option = await cli(['status', '--identity', 'key', '--json']);
    expect(option.exitCode).toBe(2);
    expect(JSON.parse(option.stdout)).toEqual({ ok: false, exitCode: 2, error: { kind: 'usage', message: "unknown option '--identity'" } });
    expect(option.stderr).toBe('');
    const dir = join(scratch, 'bad-config-json');
    cpSync(exampleServer, dir, { recursive: true, filter: (path) => !path.includes('__pycache__') });
    const file = join(dir, '.mcpdeployrc.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"keepReleases": 3', '"keepReleases": "three"'));
    const config = await cli(['status', '--config', file, '--json']);
    expect(config.exitCode).toBe(2);
    const document = JSON.parse(config.stdout);
    expect(document).toMatchObject({ ok: false, exitCode: 2, error: { kind: 'config' } });
    expect(document.error.message).toContain('keepReleases: expected number, got "three"');
  });
});

describe('mcp-deploy --yes --json (the binary, a local target behind real nginx)', () => {
  let world: World;
  let configFile: string;
  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    const config = JSON.parse(readFileSync(exampleConfig, 'utf8').replace(/^\/\/.*$/gm, ''));
    config.source = world.project;
    config.drainSeconds = 0.2;
    config.targets = {
      world: {
        transport: 'local',
        path: world.hostRoot,
        ports: world.ports,
        publicUrl: world.publicUrl,
        nginx: {
          upstreamFile: world.nginx.upstreamFile,
          upstream: world.nginx.upstreamName,
          test: world.nginx.testCommand,
          reload: world.nginx.reloadCommand,
        },
      },
    };
    configFile = join(world.project, 'ci.mcpdeployrc.json');
    writeFileSync(configFile, JSON.stringify(config));
  }, 60_000);
  afterAll(async () => world?.stop());

  it('prints exactly one JSON document on stdout with the public fields, progress on stderr', async () => {
    const result = await cli(['--yes', '--json', '--config', configFile]);
    expect(result.exitCode, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      ok: true,
      target: 'world',
      previous: null,
      uploadedFiles: expect.any(Number),
      uploadedBytes: expect.any(Number),
    });
    expect(summary.release).toMatch(/^\d{8}T\d{6}Z/);
    expect(summary.steps.map((step: { name: string }) => step.name)).toEqual(
      expect.arrayContaining(['upload', 'install', 'start', 'health', 'switch', 'verify', 'drain']),
    );
    expect(result.stderr).toContain('✔ Switch nginx to blue');
    expect(result.stderr).not.toMatch(/\u001b\[/);
  });

  it('status and releases read the same truth from the host', async () => {
    const status = await cli(['status', '--json', '--config', configFile]);
    expect(status.exitCode).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed.state.active.colour).toBe('blue');
    expect(parsed.colours.find((colour: { colour: string }) => colour.colour === 'blue')).toMatchObject({ running: true, healthy: true });
    const releases = await cli(['releases', '--json', '--config', configFile]);
    const list = JSON.parse(releases.stdout).releases;
    expect(list[0]).toMatchObject({ id: parsed.state.active.release, active: true, lastResult: 'ok' });
  });

  it('status --watch without a terminal prints one line per sample: MCP latency, CPU, memory and nginx', async () => {
    const watched = writeCliConfig(world, { watch: { seconds: 0, accessLog: world.nginx.accessLog } });
    const result = await cli(['status', '--watch', '--count', '2', '--interval', '0.3', '--config', watched]);
    expect(result.exitCode, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /\| blue\* healthy mcp \d+ms p50 \d+ms p99 \d+ms cpu \d+\.\d% mem [\d.]+ MB req\/s [\d.]+ 5xx 0\/\d+ upstream p50 \S+ p99 \S+ sessions \d+ \|/,
    );
  });

  it('a second deploy while the lock is held exits 4 naming the holder; unlock --force clears it', async () => {
    const lockDir = join(world.hostRoot, 'deploy.lock');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(lockDir);
    writeFileSync(
      join(lockDir, 'info.json'),
      JSON.stringify({
        // A holder's name with escape sequences: printed raw, they would clear the screen and retitle the window.
        operator: 'bob\u001b]0;owned\u0007\u001b[2J',
        localHost: 'ci-runner-3',
        pid: 999999,
        startedAt: Math.floor(Date.now() / 1000),
        startedAtIso: new Date().toISOString(),
        release: null,
        operation: 'deploy',
      }),
    );
    const blocked = await cli(['--yes', '--config', configFile, '--skip-validate']);
    expect(blocked.exitCode).toBe(4);
    expect(blocked.stdout).toContain('bob@ci-runner-3 (pid 999999)');
    expect(blocked.stdout).not.toMatch(/[\u001b\u0007]/);
    const unlock = await cli(['unlock', '--force', '--config', configFile]);
    expect(unlock.exitCode).toBe(0);
    const again = await cli(['--yes', '--config', configFile, '--skip-validate']);
    expect(again.exitCode, again.stdout).toBe(0);
    expect(again.stdout).toContain('✔ Switch nginx to green');
  });

  it('never shows a secret the server prints, even with --verbose', async () => {
    // Given a server that prints its API token at start, and the token in the deploying environment
    const token = 'tok-9f8e7d6c5b4a3921';
    world.editServer((text) =>
      text.replace(
        /^(from __future__ import [^\n]*\n)/m,
        '$1import os as _os\nprint("token is", _os.environ.get("API_TOKEN"), flush=True)\n',
      ),
    );
    const withSecret = writeCliConfig(world, { env: { required: ['API_TOKEN'] } });

    // When it is deployed with every server line shown
    const result = await cli(['--yes', '--verbose', '--skip-validate', '--config', withSecret], { env: { API_TOKEN: token } });

    // Then the token appears nowhere in what it printed
    expect(result.exitCode, result.stdout).toBe(0);
    expect(`${result.stdout}${result.stderr}`).not.toContain(token);

    // And the server's log, read back through mcp-deploy, has the line with the token masked
    const logs = await cli(['logs', '--lines', '200', '--config', withSecret], { env: { API_TOKEN: token } });
    expect(logs.exitCode, logs.stderr).toBe(0);
    expect(logs.stdout).toContain('token is ***');
    expect(`${logs.stdout}${logs.stderr}`).not.toContain(token);
  });
});

describe('connection errors have their own exit code', () => {
  it('an SSH target nobody listens on exits 3 with "Cannot reach"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpd-cli-ssh-'));
    const port = await freePort();
    const file = join(dir, '.mcpdeployrc.json');
    const key = join(dir, 'id_ed25519');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    writeFileSync(
      file,
      JSON.stringify({
        app: 'x',
        source: exampleServer,
        runtime: { entry: 'server.py' },
        targets: { p: { host: '127.0.0.1', port, user: 'nobody', identityFile: key, path: '/srv/x', publicUrl: 'http://127.0.0.1:9' } },
      }),
    );
    const result = await cli(['status', '--config', file]);
    rmSync(dir, { recursive: true, force: true });
    expect(result.exitCode).toBe(3);
    expect(result.stderr).toMatch(/Cannot reach 127\.0\.0\.1:\d+/);
  });
});
