import { parse as parseJsonc } from 'jsonc-parser';
import { describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import {
  answerProblem,
  answersFrom,
  buildConfig,
  publicUrlOf,
  renderConfig,
  type AnswerTexts,
  type InitAnswers,
} from '../../source/ops/init-config.js';

/** The `.mcpdeployrc` that `mcp-deploy init` writes from its answers. */

const file = '/projects/knowledge/.mcpdeployrc';

const answers: InitAnswers = {
  app: 'ontology-server',
  source: 'servers/ontology-server',
  entry: 'server.py',
  requirements: 'requirements.txt',
  ontologies: ['ontologies/*.ttl'],
  host: 'mcp.example.org',
  user: 'deploy',
  port: 2222,
  identityFile: null,
  knownHosts: null,
  path: '/srv/mcp/ontology-server',
  domain: 'mcp.example.org',
  targetName: 'production',
  healthPath: '/health',
};

describe('init-config: the rendered file', () => {
  it('loads with the same parser every command uses, and says what it was told', () => {
    // Given answers for the bundled example in a subfolder
    // When they are rendered and loaded
    const config = parseConfig(renderConfig(answers), file, {});
    const target = selectTarget(config, undefined);
    // Then every answer is where the config documentation says it goes
    expect(config.app).toBe('ontology-server');
    expect(config.source).toBe('/projects/knowledge/servers/ontology-server');
    expect(config.runtime).toMatchObject({ type: 'python', entry: 'server.py', requirements: 'requirements.txt' });
    expect(config.ontologies).toEqual(['ontologies/*.ttl']);
    expect(config.health.http).toEqual([{ path: '/health', status: 200 }]);
    expect(config.health.mcp).toEqual({ path: '/mcp', expectTools: [], calls: [] });
    expect(target).toMatchObject({
      name: 'production',
      default: true,
      host: 'mcp.example.org',
      port: 2222,
      user: 'deploy',
      path: '/srv/mcp/ontology-server',
      publicUrl: 'https://mcp.example.org',
    });
    expect(target.nginx).toMatchObject({
      test: 'sudo -n nginx -t',
      reload: 'sudo -n systemctl reload nginx',
      upstream: 'mcp_ontology_server',
    });
  });

  it('is the object buildConfig makes, with a comment for the reader', () => {
    const text = renderConfig(answers);
    expect(parseJsonc(text)).toEqual(JSON.parse(JSON.stringify(buildConfig(answers))));
    expect(text).toMatch(/^\/\/ mcp-deploy configuration, written by `mcp-deploy init`/);
    expect(text).toContain('// The script to run, relative to "source".');
    expect(text).toContain('// Where clients reach the server through nginx; checked after every switch.');
    expect(text).toContain('// "identityFile": "~/.ssh/id_ed25519",');
    const comments = text.split('\n').filter((line) => line.trim().startsWith('//'));
    expect(comments.length).toBeGreaterThanOrEqual(12);
    expect(comments.every((line) => line.length <= 130)).toBe(true);
  });

  it('holds no secrets: no key, password, token or webhook, and no environment reads', () => {
    const text = renderConfig(answers);
    expect(text).not.toContain('BEGIN OPENSSH PRIVATE KEY');
    expect(text).not.toMatch(/password|"pass"|token|secret|webhook|"notify"|"env"/i);
    // The key file is only suggested in a comment; it stays on this machine either way.
    expect(text).not.toMatch(/^\s*"identityFile"\s*:/m);
    expect(text).not.toMatch(/(?<!\$)\$\{/);
  });

  it('keeps a typed ${ literal rather than reading the environment', () => {
    const config = parseConfig(renderConfig({ ...answers, path: '/srv/${HOME}' }), file, {});
    expect(selectTarget(config, undefined).path).toBe('/srv/${HOME}');
  });

  it('leaves out what was not found: no requirements, no ontologies, no /health', () => {
    const bare = { ...answers, requirements: null, ontologies: [], healthPath: null, source: '.', targetName: 'staging' };
    const text = renderConfig(bare);
    const config = parseConfig(text, file, {});
    expect(config.runtime.requirements).toBeUndefined();
    expect(config.ontologies).toEqual([]);
    expect(config.health.http).toEqual([]);
    expect(config.source).toBe('/projects/knowledge');
    expect(selectTarget(config, undefined).name).toBe('staging');
    expect(text).toContain("No requirements file: the server runs on the host's python3.");
  });
});

describe('init-config: answers', () => {
  const texts: AnswerTexts = {
    app: 'ontology',
    source: './servers/ontology/',
    entry: 'server.py',
    requirements: '',
    ontologies: ' a/*.ttl,  b/*.ttl ,',
    host: 'mcp.example.org',
    user: 'deploy',
    port: '22',
    identityFile: '',
    knownHosts: '',
    path: '/srv/mcp/ontology/',
    domain: 'https://mcp.example.org/',
    target: 'production',
  };

  it('turns typed text into answers', () => {
    expect(answersFrom(texts, { healthPath: null })).toEqual({
      app: 'ontology',
      source: 'servers/ontology',
      entry: 'server.py',
      requirements: null,
      ontologies: ['a/*.ttl', 'b/*.ttl'],
      host: 'mcp.example.org',
      user: 'deploy',
      port: 22,
      identityFile: null,
      knownHosts: null,
      path: '/srv/mcp/ontology',
      domain: 'https://mcp.example.org/',
      targetName: 'production',
      healthPath: null,
    });
  });

  it('writes the SSH key and known_hosts into the target when they are given', () => {
    const given = answersFrom(
      { ...texts, identityFile: '~/.ssh/deploy_ed25519', knownHosts: '~/.ssh/known_hosts_mcp' },
      { healthPath: null },
    );
    const target = buildConfig(given).targets['production'] as Record<string, unknown>;
    expect(target).toMatchObject({ identityFile: '~/.ssh/deploy_ed25519', knownHosts: '~/.ssh/known_hosts_mcp' });
    const text = renderConfig(given);
    expect(text).toContain('"identityFile": "~/.ssh/deploy_ed25519",');
    expect(text).toContain('"knownHosts": "~/.ssh/known_hosts_mcp",');
    expect(answerProblem('identityFile', '~/my keys/id')).toMatch(/without spaces/);
  });

  it('makes https:// URLs from domains, and keeps a URL typed in full', () => {
    expect(publicUrlOf('mcp.example.org')).toBe('https://mcp.example.org');
    expect(publicUrlOf('http://10.0.0.5:8080/')).toBe('http://10.0.0.5:8080');
  });

  it('refuses answers the config would refuse, saying why', () => {
    expect(answerProblem('host', '')).toBe('is required');
    expect(answerProblem('requirements', '')).toBeNull();
    expect(answerProblem('app', 'my app')).toMatch(/letters, digits/);
    expect(answerProblem('host', 'deploy@mcp.example.org')).toMatch(/user has a question of its own/);
    expect(answerProblem('port', '70000')).toMatch(/port 1-65535/);
    expect(answerProblem('path', 'srv/mcp')).toMatch(/absolute/);
    expect(answerProblem('domain', 'mcp example')).toMatch(/without spaces/);
    expect(answerProblem('domain', 'https://user:pw@mcp.example.org')).toMatch(/no user or password/);
    expect(answerProblem('target', 'prod env')).toMatch(/letters, digits/);
    expect(answerProblem('entry', '/abs/server.py')).toMatch(/relative/);
    for (const [key, value] of Object.entries(texts)) expect(answerProblem(key as keyof AnswerTexts, value), key).toBeNull();
  });
});

describe('init-config: node and pyproject servers', () => {
  it('writes a node runtime with the build that makes its entry', () => {
    const node: InitAnswers = {
      ...answers,
      source: 'servers/weather-ts',
      entry: 'dist/index.js',
      requirements: null,
      ontologies: [],
      project: {
        type: 'node',
        lockfile: 'package-lock.json',
        manager: 'npm',
        entry: 'dist/index.js',
        build: { command: 'npm run build', output: 'dist' },
      },
    };
    const text = renderConfig(node);
    const config = parseConfig(text, file, {});
    expect(config.runtime).toMatchObject({ type: 'node', entry: 'dist/index.js', node: 'node' });
    expect(config.runtime.requirements).toBeUndefined();
    expect(config.build).toEqual({ command: 'npm run build', output: 'dist', timeoutSeconds: 600 });
    expect(text).toContain('Dependencies come from package-lock.json, installed once per lockfile into shared/deps');
    // An entry typed by hand outside the build's output needs no build.
    expect(parseConfig(renderConfig({ ...node, entry: 'server.mjs' }), file, {}).build).toBeUndefined();
  });

  it('writes pyproject.toml as the requirements of a python server, saying how it is installed', () => {
    const text = renderConfig({
      ...answers,
      requirements: 'pyproject.toml',
      project: { type: 'python', requirements: 'pyproject.toml', uvLock: true },
    });
    expect(parseConfig(text, file, {}).runtime).toMatchObject({ type: 'python', requirements: 'pyproject.toml' });
    expect(text).toContain('uv sync --frozen from uv.lock');
  });
});
