import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, selectTarget } from '../../source/config/load.js';
import { DeployError } from '../../source/errors.js';

const file = '/projects/demo/.mcpdeployrc';

function minimal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    app: 'ontology',
    source: 'mcp',
    runtime: { type: 'python', entry: 'server.py' },
    targets: {
      production: { host: 'mcp.example.org', user: 'deploy', path: '/srv/ontology', publicUrl: 'https://mcp.example.org' },
    },
    ...overrides,
  };
}

function failure(raw: unknown, environment: Record<string, string> = {}): DeployError {
  try {
    parseConfig(JSON.stringify(raw), file, environment);
  } catch (error) {
    if (error instanceof DeployError) return error;
    throw error;
  }
  throw new Error('expected the config to be refused');
}

describe('config: a good file', () => {
  it('fills defaults and resolves local paths against the config file', () => {
    const config = parseConfig(JSON.stringify(minimal()), file, {});
    expect(config.source).toBe('/projects/demo/mcp');
    expect(config.keepReleases).toBe(3);
    const target = selectTarget(config, undefined);
    expect(target.name).toBe('production');
    expect(target.ports).toEqual({ blue: 5002, green: 5003 });
    expect(target.port).toBe(22);
    expect(target.supervisor).toBe('process');
    expect(target.nginx.upstream).toBe('mcp_ontology');
    expect(target.nginx.upstreamFile).toBe('/srv/ontology/nginx-upstream.conf');
  });

  it('interpolates ${VAR} from the environment, numbers included, with fallbacks', () => {
    const raw = minimal({
      targets: {
        production: {
          host: '${DEPLOY_HOST}',
          port: '${SSH_PORT}',
          path: '/srv/${APP_DIR:-ontology}',
          publicUrl: 'https://${DEPLOY_HOST}',
        },
      },
    });
    const config = parseConfig(JSON.stringify(raw), file, { DEPLOY_HOST: 'mcp.example.org', SSH_PORT: '2222' });
    const target = selectTarget(config, 'production');
    expect(target.host).toBe('mcp.example.org');
    expect(target.port).toBe(2222);
    expect(target.path).toBe('/srv/ontology');
  });

  it('picks the target marked default among several', () => {
    const raw = minimal({
      targets: {
        staging: { host: 'a', path: '/srv/a', publicUrl: 'http://a' },
        production: { host: 'b', path: '/srv/b', publicUrl: 'http://b', default: true },
      },
    });
    expect(selectTarget(parseConfig(JSON.stringify(raw), file, {}), undefined).name).toBe('production');
  });

  it('the shipped .mcpdeployrc.example is valid', () => {
    const text = readFileSync(new URL('../../.mcpdeployrc.example', import.meta.url), 'utf8');
    const config = parseConfig(text, join(process.cwd(), '.mcpdeployrc.example'), {});
    expect(Object.keys(config.targets).length).toBeGreaterThan(0);
  });
});

describe('config: every kind of bad', () => {
  it('names the file, the key path and what was expected for a bad port', () => {
    const raw = minimal();
    (raw['targets'] as Record<string, Record<string, unknown>>)['production']!['ports'] = { blue: 'abc' };
    expect(failure(raw).message).toBe(`${file}: targets.production.ports.blue: expected a port 1-65535, got "abc"`);
  });

  it('suggests the right key for a typo', () => {
    const message = failure(minimal({ keepReleaes: 5 })).message;
    expect(message).toContain('keepReleaes: unknown key; did you mean "keepReleases"?');
  });

  it('suggests the right nested key for a typo', () => {
    const raw = minimal();
    (raw['targets'] as Record<string, Record<string, unknown>>)['production']!['publicURL'] = 'x';
    expect(failure(raw).message).toContain('targets.production.publicURL: unknown key; did you mean "publicUrl"?');
  });

  it('refuses the same port for blue and green', () => {
    const raw = minimal();
    (raw['targets'] as Record<string, Record<string, unknown>>)['production']!['ports'] = { blue: 5002, green: 5002 };
    expect(failure(raw).message).toContain('targets.production.ports.green: must differ from ports.blue (both are 5002)');
  });

  it('refuses a relative deploy root for ssh targets', () => {
    const raw = minimal();
    (raw['targets'] as Record<string, Record<string, unknown>>)['production']!['path'] = 'srv/app';
    expect(failure(raw).message).toContain('targets.production.path: must be an absolute path on the host');
  });

  it('names an unset ${VAR} and where it is used', () => {
    const raw = minimal({ targets: { production: { host: '${NOPE_HOST}', path: '/srv', publicUrl: 'http://x' } } });
    expect(failure(raw).message).toContain('targets.production.host: ${NOPE_HOST} is not set in the environment');
  });

  it('reports a wrong type with what it got', () => {
    expect(failure(minimal({ keepReleases: 'three' })).message).toContain('keepReleases: expected number, got "three"');
  });

  it('reports a missing required key', () => {
    const raw = minimal();
    delete raw['app'];
    expect(failure(raw).message).toContain('app: is required');
  });

  it('reports an unknown enum value with the allowed ones', () => {
    expect(failure(minimal({ runtime: { type: 'ruby' } })).message).toContain('runtime.type: expected one of "python", "node", "command"');
  });

  it('reports a target without a host when the transport is ssh', () => {
    const raw = minimal({ targets: { production: { path: '/srv', publicUrl: 'http://x' } } });
    expect(failure(raw).message).toContain('targets.production.host: is required when transport is "ssh"');
  });

  it('reports invalid JSON with the file name', () => {
    expect(() => parseConfig(`{\n  "app": `, file, {})).toThrow(/\.mcpdeployrc:2:\d+: not valid JSON/);
  });

  it('every config error exits with the usage code 2', () => {
    expect(failure(minimal({ keepReleases: 0 })).exitCode).toBe(2);
  });

  it('refuses an unknown --target with a did-you-mean', () => {
    const config = parseConfig(JSON.stringify(minimal()), file, {});
    expect(() => selectTarget(config, 'prodution')).toThrow(
      'No target "prodution" in /projects/demo/.mcpdeployrc. Did you mean "production"?',
    );
  });

  it('asks for --target when several targets and none is default', () => {
    const raw = minimal({
      targets: { a: { host: 'a', path: '/a', publicUrl: 'http://a' }, b: { host: 'b', path: '/b', publicUrl: 'http://b' } },
    });
    expect(() => selectTarget(parseConfig(JSON.stringify(raw), file, {}), undefined)).toThrow(/none is marked "default"/);
  });

  it('finds .mcpdeployrc.json in the working directory and says so when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-deploy-config-'));
    expect(() => loadConfig({ cwd: dir })).toThrow(/No \.mcpdeployrc or \.mcpdeployrc\.json in/);
    writeFileSync(join(dir, '.mcpdeployrc.json'), JSON.stringify(minimal()));
    expect(loadConfig({ cwd: dir, environment: {} }).app).toBe('ontology');
  });
});

describe('config: runtimes, builds and hooks', () => {
  it('takes a node runtime, a build with its output, a cached install and hooks in both of their forms', () => {
    const config = parseConfig(
      JSON.stringify(
        minimal({
          runtime: {
            type: 'command',
            command: 'bun run server.ts',
            install: { command: 'bun install --production', cacheKey: ['package.json', 'bun.lock'], cachePaths: ['node_modules'] },
          },
          build: { command: 'npm run build', output: ['dist', 'assets'] },
          hooks: {
            beforeStart: 'npm run migrate',
            afterSwitch: { command: 'curl -fsS "$MCP_DEPLOY_PUBLIC_URL/health"', timeoutSeconds: 20 },
            local: { after: 'echo done' },
          },
        }),
      ),
      file,
      {},
    );
    expect(config.build).toEqual({ command: 'npm run build', output: ['dist', 'assets'], timeoutSeconds: 600 });
    expect(config.hooks?.afterSwitch).toEqual({ command: 'curl -fsS "$MCP_DEPLOY_PUBLIC_URL/health"', timeoutSeconds: 20 });
    expect(config.hooks?.beforeStart).toBe('npm run migrate');
    expect(parseConfig(JSON.stringify(minimal({ runtime: { type: 'node' } })), file, {}).runtime).toMatchObject({
      type: 'node',
      node: 'node',
    });
  });

  it('refuses a cached install for python, and cache paths that leave the source folder', () => {
    const cached = { command: 'x', cacheKey: ['a'], cachePaths: ['b'] };
    expect(failure(minimal({ runtime: { type: 'python', entry: 'server.py', install: cached } })).message).toContain(
      'runtime.install: runtime.type "python" caches its venv by runtime.requirements',
    );
    const escaping = { type: 'command', command: 'x', install: { ...cached, cacheKey: ['../secrets'], cachePaths: ['/opt/x'] } };
    const message = failure(minimal({ runtime: escaping })).message;
    expect(message).toContain('runtime.install.cacheKey[0]: must stay inside "source" (no "..")');
    expect(message).toContain('runtime.install.cachePaths[0]: expected a path relative to "source"');
  });

  it('suggests the hook a typo meant', () => {
    expect(failure(minimal({ hooks: { beforeStrat: 'x' } })).message).toContain(
      'hooks.beforeStrat: unknown key; did you mean "beforeStart"?',
    );
  });
});
