import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sampleSurface, sdkServerModule, sdkServerScript, type Surface } from '../fixtures/sdk-server/start.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';
import { createWorld, getJson, writeCliConfig, type World } from './world.js';

/**
 * The MCP contract end to end: releases of a server built on the official v2 SDK
 * (test/fixtures/sdk-server) deployed with the real binary. Every breaking pair is stopped by
 * `--yes` before the switch (exit 5, each break named, the old release still serving); a risky
 * change goes through; --allow-breaking lets a breaking one through; the terminal app shows the
 * diff in its plan and wants B for it.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;

function cli(world: World, args: string[]) {
  return execa(process.execPath, [bin, ...args], {
    reject: false,
    cwd: world.project,
    env: { CI: 'true', NO_COLOR: '1' },
    timeout: 120_000,
  });
}

type Summary = {
  ok: boolean;
  release: string | null;
  serving: string | null;
  contract: { counts: { breaking: number; risky: number; safe: number }; changes: { rule: string; text: string }[] } | null;
  error?: { step: string; message: string; hint?: string };
};

describe('the MCP contract of every release (official v2 SDK servers, the real binary)', () => {
  let world: World;
  let config: string;
  let terminal: Terminal | undefined;
  let active = '';

  const release = (surface: Surface) => writeFileSync(join(world.project, 'surface.json'), JSON.stringify(surface));
  const serving = async () => (await getJson(`${world.publicUrl}/health`)).body['release'];
  const deployJson = async (...extra: string[]) => {
    const result = await cli(world, ['--config', config, '--yes', '--json', ...extra]);
    return { ...result, summary: JSON.parse(result.stdout) as Summary };
  };

  beforeAll(async () => {
    world = await createWorld({ transport: 'local' });
    copyFileSync(sdkServerScript, join(world.project, 'server.mjs'));
    release({
      ...sampleSurface,
      tools: [
        ...sampleSurface.tools!,
        { name: 'mode', inputSchema: { type: 'object', properties: { kind: { type: 'string', enum: ['fast', 'slow'] } } } },
      ],
    });
    config = writeCliConfig(world, {
      runtime: { type: 'command', command: `${process.execPath} server.mjs`, env: { MCP_SERVER_MODULE: sdkServerModule, MCP_ERA: 'both' } },
      ontologies: [],
      health: { http: [{ path: '/health', status: 200 }], mcp: { path: '/mcp', expectTools: ['echo'] }, timeoutSeconds: 15 },
    });
    const first = await deployJson();
    expect(first.exitCode, first.stderr).toBe(0);
    active = first.summary.release!;
    expect(first.summary.contract).toBeNull(); // a first deploy has nothing to compare with
  }, 120_000);

  afterEach((context) => {
    if (terminal && context.task.result?.state === 'fail') console.log(`final screen:\n${terminal.screen()}`);
    terminal?.stop();
    terminal = undefined;
  });
  afterAll(async () => world?.stop());

  const base = () => [
    ...sampleSurface.tools!,
    { name: 'mode', inputSchema: { type: 'object', properties: { kind: { type: 'string', enum: ['fast', 'slow'] } } } },
  ];
  const breakingPairs: [string, Surface, RegExp][] = [
    ['a removed tool', { ...sampleSurface, tools: base().filter((t) => t['name'] !== 'count') }, /breaking: tool count: removed/],
    [
      'a new required argument',
      {
        ...sampleSurface,
        tools: base().map((t) =>
          t['name'] === 'echo'
            ? {
                ...t,
                inputSchema: {
                  type: 'object',
                  properties: { text: { type: 'string' }, lang: { type: 'string' } },
                  required: ['text', 'lang'],
                },
              }
            : t,
        ),
      },
      /breaking: tool echo: new required argument "lang"/,
    ],
    [
      'a narrowed enum',
      {
        ...sampleSurface,
        tools: base().map((t) =>
          t['name'] === 'mode' ? { ...t, inputSchema: { type: 'object', properties: { kind: { type: 'string', enum: ['fast'] } } } } : t,
        ),
      },
      /breaking: tool mode: argument "kind" no longer accepts "slow"/,
    ],
    ['a removed prompt', { ...sampleSurface, tools: base(), prompts: [] }, /breaking: prompt greet: removed/],
    ['a removed resource', { ...sampleSurface, tools: base(), resources: [] }, /breaking: resource file:\/\/\/readme: removed/],
  ];

  it.each(breakingPairs)('stops %s before the switch: exit 5, the break named, the old release serving', async (_name, surface, line) => {
    release(surface);
    const result = await deployJson();
    expect(result.exitCode, result.stderr).toBe(5);
    expect(result.stderr).toMatch(line);
    expect(result.stderr).toMatch(/breaking change\(s\) to the MCP contract, compared with .*; nothing was switched/);
    expect(result.stderr).toContain('--allow-breaking');
    expect(result.stderr).toContain('"contract": { "allowBreaking": true }');
    expect(result.summary.error?.step).toBe('contract');
    expect(result.summary.contract?.counts.breaking).toBe(1);
    // The switch never ran: the old release still answers through nginx.
    expect(result.summary.serving).toContain(active);
    expect(await serving()).toBe(active);
  });

  it('lets a risky change through (a tool no longer read-only), and says so', async () => {
    release({
      ...sampleSurface,
      tools: base().map((t) => (t['name'] === 'echo' ? { ...t, annotations: { readOnlyHint: false, destructiveHint: false } } : t)),
    });
    const result = await deployJson();
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.summary.contract?.counts).toEqual({ breaking: 0, risky: 1, safe: 0 });
    expect(result.stderr).toMatch(/! risky\s+tool echo: no longer read-only/);
    active = result.summary.release!;
    expect(await serving()).toBe(active);
  });

  it('lets the same breaking deploy through with --allow-breaking', async () => {
    release({ ...sampleSurface, tools: base().filter((t) => t['name'] !== 'count') });
    const result = await deployJson('--allow-breaking');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.summary.contract?.changes.map((change) => change.rule)).toContain('tool.removed');
    const previous = active;
    active = result.summary.release!;
    expect(await serving()).toBe(active);

    // Every release that passed its checks recorded its contract; diff compares two of them.
    const listed = await cli(world, ['releases', '--json', '--config', config]);
    const rows = (JSON.parse(listed.stdout) as { releases: { id: string; contract: { tools: number; era: string } | null }[] }).releases;
    expect(rows.find((row) => row.id === active)?.contract).toMatchObject({ tools: 2, prompts: 1, era: 'modern' });
    const diff = await cli(world, ['diff', previous, active, '--json', '--config', config]);
    expect(diff.exitCode, diff.stderr).toBe(0);
    expect((JSON.parse(diff.stdout) as { changes: { rule: string }[] }).changes.map((change) => change.rule)).toContain('tool.removed');
  });

  it.skipIf(!tmuxAvailable())(
    'shows the breaks in the terminal app plan and deploys only after B',
    async () => {
      release({ ...sampleSurface, tools: base().filter((t) => t['name'] !== 'mode') });
      terminal = openTerminal([process.execPath, bin, '--config', config], { cwd: world.project, rows: 40 });
      const plan = await terminal.waitFor(/It breaks the MCP contract/);
      expect(plan).toMatch(/1 breaking\s+0 risky\s+\d+ safe contract change/);
      expect(plan).toMatch(/✖ breaking tool mode: removed/);
      terminal.send('y');
      await terminal.waitFor(/B deploys anyway, q leaves/);
      expect(await serving()).toBe(active); // a plain yes did nothing
      terminal.send('B');
      await terminal.waitFor(/Deployed\./, 90_000);
      expect(await serving()).not.toBe(active);
    },
    150_000,
  );
});
