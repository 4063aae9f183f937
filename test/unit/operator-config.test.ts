import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { DeployError } from '../../source/errors.js';
import { makeReleaseId } from '../../source/host/layout.js';
import { configLines, configView } from '../../source/ops/config-view.js';
import { answersFrom, defaultTexts, renderConfig, type AnswerTexts } from '../../source/ops/init-config.js';
import { supervisorChange, writeSupervisor } from '../../source/ops/supervisor-choice.js';
import { shipsFile } from '../../source/project/source-files.js';

/** The config side of the operator commands: shared paths, the supervisor choice, the config view, release ids. */

const file = '/projects/demo/.mcpdeployrc';
const minimal = (overrides: Record<string, unknown> = {}) => ({
  app: 'demo',
  runtime: { entry: 'server.py' },
  targets: { production: { host: 'mcp.example.org', path: '/srv/demo', publicUrl: 'https://mcp.example.org' } },
  ...overrides,
});
const refusal = (raw: unknown): string => {
  try {
    parseConfig(JSON.stringify(raw), file, {});
  } catch (error) {
    if (error instanceof DeployError) return error.message;
    throw error;
  }
  throw new Error('expected the config to be refused');
};

describe('shared.dirs and shared.files', () => {
  it('default to none, and are normalised', () => {
    expect(parseConfig(JSON.stringify(minimal()), file, {}).shared).toEqual({ dirs: [], files: [] });
    const config = parseConfig(JSON.stringify(minimal({ shared: { dirs: ['./data/', 'var//cache'], files: ['.cache.db'] } })), file, {});
    expect(config.shared).toEqual({ dirs: ['data', 'var/cache'], files: ['.cache.db'] });
  });

  it("refuse paths that leave the release, name mcp-deploy's own, or overlap, naming the key", () => {
    expect(refusal(minimal({ shared: { dirs: ['../up'] } }))).toContain('shared.dirs[0]: must not contain "." or ".." segments');
    expect(refusal(minimal({ shared: { files: ['/etc/passwd'] } }))).toContain('shared.files[0]: must be relative');
    expect(refusal(minimal({ shared: { dirs: ['.'] } }))).toContain('names the release folder itself');
    for (const name of ['venvs', 'deps', 'logs/x', '.env', '.env.local', '.mcp-deploy']) {
      expect(refusal(minimal({ shared: { dirs: [name] } })), name).toContain("is mcp-deploy's own");
    }
    expect(refusal(minimal({ shared: { dirs: ['data'], files: ['data/app.db'] } }))).toContain(
      'shared.files[0]: overlaps shared.dirs "data"',
    );
    expect(refusal(minimal({ shared: { dirs: ['data', 'data/'] } }))).toContain('shared.dirs[1]: is listed twice');
    expect(refusal(minimal({ shared: { dir: ['data'] } }))).toContain('shared.dir: unknown key; did you mean "dirs"?');
  });

  it('are never shipped, whatever else ships', () => {
    const ships = shipsFile({ exclude: ['*.log'], shared: { dirs: ['data'], files: ['settings.json'] } });
    expect(ships('server.py')).toBe(true);
    expect(ships('data/app.db')).toBe(false);
    expect(ships('settings.json')).toBe(false);
    expect(ships('sub/settings.json')).toBe(true);
    expect(ships('debug.log')).toBe(false);
    expect(ships('__pycache__/x.pyc')).toBe(false);
  });
});

describe('the supervisor a host calls for', () => {
  it('is systemd on a host that runs it; nothing changes otherwise', () => {
    expect(supervisorChange({ supervisor: 'process' }, true)).toMatchObject({ from: 'process', to: 'systemd' });
    expect(supervisorChange({ supervisor: 'systemd' }, true)).toBeNull();
    expect(supervisorChange({ supervisor: 'process' }, false)).toBeNull();
  });

  it('is written into the config file with its comments and layout kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcpd-supervisor-'));
    const path = join(dir, '.mcpdeployrc');
    const text = `// my comments stay\n{\n  "app": "demo", // the app\n  "runtime": { "entry": "server.py" },\n  "targets": {\n    "production": {\n      "host": "mcp.example.org",\n      "path": "/srv/demo",\n      "publicUrl": "https://mcp.example.org"\n    }\n  }\n}\n`;
    writeFileSync(path, text);
    writeSupervisor(path, 'production', 'systemd');
    const written = readFileSync(path, 'utf8');
    expect(written).toContain('// my comments stay');
    expect(written).toContain('"app": "demo", // the app');
    expect(selectTarget(parseConfig(written, path, {}), undefined).supervisor).toBe('systemd');
    // An explicit choice is replaced in place.
    writeSupervisor(path, 'production', 'process');
    expect(readFileSync(path, 'utf8').match(/"supervisor"/g)).toHaveLength(1);
  });

  it('init writes systemd unless told otherwise, with a line saying why', () => {
    const texts: AnswerTexts = {
      ...defaultTexts,
      identityFile: '',
      knownHosts: '',
      app: 'demo',
      source: '.',
      entry: 'server.py',
      requirements: '',
      ontologies: '',
      host: 'mcp.example.org',
      path: '/srv/demo',
      domain: 'mcp.example.org',
    };
    const systemd = renderConfig(answersFrom(texts, { healthPath: null }));
    expect(systemd).toContain('comes back after a reboot');
    expect(selectTarget(parseConfig(systemd, file, {}), undefined).supervisor).toBe('systemd');
    const processed = renderConfig(answersFrom(texts, { healthPath: null, supervisor: 'process' }));
    expect(selectTarget(parseConfig(processed, file, {}), undefined).supervisor).toBe('process');
  });
});

describe('mcp-deploy config', () => {
  it('shows the resolved target and masks every secret the config holds', () => {
    const config = parseConfig(
      JSON.stringify(
        minimal({
          notify: {
            slack: { webhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX' },
            webhook: { url: 'https://hooks.example.org/in/abc', secret: 'hmac-secret-value' },
            email: { host: 'smtp.example.org', user: 'ops', pass: 'smtp-password', from: 'a@example.org', to: 'b@example.org' },
          },
        }),
      ),
      file,
      {},
    );
    const view = configView(config, selectTarget(config, undefined));
    const text = [...configLines(view.config), ...configLines(view.target, 'target')].join('\n');
    expect(text).toContain('notify.slack.webhookUrl: "https://hooks.slack.com/…"');
    expect(text).toContain('notify.webhook.secret: "***"');
    expect(text).toContain('notify.email.pass: "***"');
    expect(text).toContain('notify.email.user: "ops"');
    expect(text).toContain('target.nginx.upstreamFile: "/srv/demo/nginx-upstream.conf"');
    expect(text).not.toMatch(/XXXXsecret|hmac-secret|smtp-password/);
  });
});

describe('release ids', () => {
  it('end in -dirty when what ships is not the commit', () => {
    expect(makeReleaseId('20261124T101500Z', 'abc1234def')).toBe('20261124T101500Z-abc1234');
    expect(makeReleaseId('20261124T101500Z', 'abc1234def', { dirty: true })).toBe('20261124T101500Z-abc1234-dirty');
    expect(makeReleaseId('20261124T101500Z', null, { dirty: true })).toBe('20261124T101500Z');
  });
});
