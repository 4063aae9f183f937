import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig, selectTarget } from '../../source/config/load.js';
import { openTerminal, tmuxAvailable, type Terminal } from './tmux.js';

/**
 * `mcp-deploy init` as the binary: with --yes and flags (CI), and as the wizard in a real pty.
 * Each case starts from a fresh git repository holding a copy of the example server.
 */
const bin = new URL('../../bin/mcp-deploy.js', import.meta.url).pathname;
const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'mcpd-init-e2e-'));
let repos = 0;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A repository with the example server in ontology-server/ (its own config left out) and a
 * remote, which pins mcp-deploy in its lockfile (a tarball with an integrity hash), as the CI
 * workflow requires.
 */
function exampleRepo(options: { pinned?: boolean; ownConfig?: boolean } = {}): string {
  repos += 1;
  const root = join(scratch, `repo-${repos}`);
  mkdirSync(root);
  execFileSync('git', ['init', '-q'], { cwd: root });
  execFileSync('git', ['remote', 'add', 'origin', 'git@github.com:acme/knowledge.git'], { cwd: root });
  cpSync(exampleServer, join(root, 'ontology-server'), {
    recursive: true,
    filter: (path) => !path.includes('__pycache__') && (options.ownConfig === true || !path.endsWith('.mcpdeployrc.json')),
  });
  if (options.pinned !== false) {
    const dependency = { 'mcp-deploy': 'file:vendor/mcp-deploy-0.1.0.tgz' };
    writeFileSync(join(root, 'package.json'), JSON.stringify({ private: true, devDependencies: dependency }));
    writeFileSync(
      join(root, 'package-lock.json'),
      JSON.stringify({
        lockfileVersion: 3,
        packages: {
          '': { devDependencies: dependency },
          'node_modules/mcp-deploy': { version: '0.1.0', resolved: dependency['mcp-deploy'], integrity: 'sha512-AAAA', dev: true },
        },
      }),
    );
  }
  return root;
}

function cli(args: string[], cwd: string, env: Record<string, string> = {}) {
  return execa(process.execPath, [bin, ...args], { reject: false, cwd, env: { CI: 'true', NO_COLOR: '1', ...env }, timeout: 120_000 });
}

const flags = ['--host', 'mcp.example.org', '--path', '/srv/mcp/ontology', '--domain', 'mcp.example.org'];
const load = (root: string) => {
  const file = join(root, '.mcpdeployrc');
  const config = parseConfig(readFileSync(file, 'utf8'), file, {});
  return { config, target: selectTarget(config, undefined) };
};

describe('mcp-deploy init --yes (the binary, as CI runs it)', () => {
  it('writes a .mcpdeployrc from what it found and the flags, which validate passes', async () => {
    // Given a repository with the example server and no config
    const root = exampleRepo();
    // When init runs with the three answers nothing in the repository can give
    const result = await cli(['init', '--yes', ...flags], root);
    // Then it says what it found and what it wrote
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/server: ontology-server\/ \(server\.py: serves "\/mcp"/);
    expect(result.stdout).toContain('remote: git@github.com:acme/knowledge.git');
    expect(result.stdout).toMatch(/✔ Wrote \.mcpdeployrc: ontology-server/);
    // And the file holds the detected values and the flags
    const { config, target } = load(root);
    expect(config.app).toBe('ontology-server');
    expect(config.source).toBe(join(root, 'ontology-server'));
    expect(config.runtime).toMatchObject({ entry: 'server.py', requirements: 'requirements.txt' });
    expect(config.ontologies).toEqual(['ontologies/*.ttl']);
    expect(config.health.http).toEqual([{ path: '/health', status: 200 }]);
    expect(target).toMatchObject({
      name: 'production',
      host: 'mcp.example.org',
      user: 'deploy',
      port: 22,
      path: '/srv/mcp/ontology',
      publicUrl: 'https://mcp.example.org',
    });
    expect(existsSync(join(root, '.github'))).toBe(false);
    // And mcp-deploy validate passes on it: syntax, ontologies, and a real MCP handshake
    const validate = await cli(['validate', '--config', join(root, '.mcpdeployrc')], root);
    expect(validate.exitCode, validate.stdout + validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/✔ Server starts and answers MCP — tools: list_concepts/);
  }, 120_000);

  it('never replaces an existing .mcpdeployrc without --force', async () => {
    const root = exampleRepo();
    expect((await cli(['init', '--yes', ...flags], root)).exitCode).toBe(0);
    const before = readFileSync(join(root, '.mcpdeployrc'), 'utf8');
    // When init runs again with other answers
    const again = await cli(['init', '--yes', ...flags, '--host', 'other.example.org'], root);
    // Then it refuses, exit 2, and the file is as it was
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/\.mcpdeployrc already exists .*left as it is/);
    expect(again.stderr).toContain('--force');
    expect(readFileSync(join(root, '.mcpdeployrc'), 'utf8')).toBe(before);
    // And with --force it replaces it
    const forced = await cli(['init', '--yes', ...flags, '--host', 'other.example.org', '--force'], root);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(load(root).target.host).toBe('other.example.org');
  });

  it('names the missing flags, exit 2, and writes nothing (also without a terminal and without --yes)', async () => {
    const root = exampleRepo();
    const result = await cli(['init', '--yes', '--host', 'mcp.example.org'], root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/needs --path, --domain/);
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
    // No TTY on stdin/stdout and no CI: still no questions, the same answer
    const untyped = await cli(['init'], root, { CI: '' });
    expect(untyped.exitCode).toBe(2);
    expect(untyped.stderr).toMatch(/needs --host, --path, --domain/);
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
  });

  it('asks for --entry when no server is found', async () => {
    const root = join(scratch, 'empty');
    mkdirSync(root);
    writeFileSync(join(root, 'README.md'), '# nothing to serve\n');
    const result = await cli(['init', '--yes', ...flags], root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/needs --entry/);
  });

  it('--ci-github writes the workflow too, and refuses up front when one exists', async () => {
    const root = exampleRepo();
    const result = await cli(['init', '--yes', ...flags, '--ci-github'], root);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('Wrote .github/workflows/mcp-deploy.yml');
    expect(result.stdout).toContain('MCP_DEPLOY_SSH_KEY');
    expect(readFileSync(join(root, '.github/workflows/mcp-deploy.yml'), 'utf8')).toContain('--config .mcpdeployrc');
    // Given the workflow exists and the config does not, nothing at all is written without --force
    rmSync(join(root, '.mcpdeployrc'));
    const again = await cli(['init', '--yes', ...flags, '--ci-github'], root);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/mcp-deploy\.yml already exists; nothing was written/);
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
  });

  it("starts from the server folder's own .mcpdeployrc.json: its host, path and domain need no flags", async () => {
    // Given the example server with its own config (host mcp.example.org by its fallback, path /srv/mcp/ontology)
    const root = exampleRepo({ ownConfig: true });
    // When init runs with no answers on the command line
    const result = await cli(['init', '--yes'], root, { DEPLOY_HOST: 'mcp.acme.example' });
    // Then the written config carries the server config's answers, its references resolved as a deploy would
    expect(result.exitCode, result.stderr).toBe(0);
    const { config, target } = load(root);
    expect(config.app).toBe('ontology');
    expect(target.name).toBe('production');
    expect(target.host).toBe('mcp.acme.example');
    expect(target.path).toBe('/srv/mcp/ontology');
    expect(target.publicUrl).toBe('https://mcp.acme.example');
  });

  it('--ci-github in a repository that does not pin mcp-deploy refuses up front with the fix, writing nothing', async () => {
    const root = exampleRepo({ pinned: false });
    const result = await cli(['init', '--yes', ...flags, '--ci-github'], root);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('does not depend on mcp-deploy');
    expect(result.stderr).toContain('npm install --save-dev');
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
    expect(existsSync(join(root, '.github'))).toBe(false);
  });
});

const skip = tmuxAvailable() ? undefined : 'tmux is not installed (apt-get install tmux)';

describe.skipIf(skip !== undefined)(`mcp-deploy init, the wizard in a real pty${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let terminal: Terminal | undefined;

  afterEach((context) => {
    if (terminal && context.task.result?.state === 'fail') console.log(`final screen:\n${terminal.screen()}`);
    terminal?.stop();
    terminal = undefined;
  });

  const open = async (root: string) => {
    terminal = openTerminal([process.execPath, bin, 'init'], { cwd: root, rows: 40 });
    await terminal.waitFor('enter next · ↑ back', 30_000);
    // The form is drawn a moment before Ink listens for keys.
    await new Promise((resolve) => setTimeout(resolve, 500));
    return terminal;
  };
  /** Waits until the question is the active one, types (if anything), and moves on. */
  const answer = async (term: Terminal, label: string, typed?: string) => {
    await term.waitFor(`› ${label}`, 10_000);
    if (typed !== undefined) term.send('-l', typed);
    term.send('Enter');
  };
  const acceptDetected = async (term: Terminal) => {
    await answer(term, 'App name');
    await answer(term, 'Source folder');
    await answer(term, 'Server entry');
    await answer(term, 'Requirements');
    await answer(term, 'Ontologies');
    await answer(term, 'SSH host', 'mcp.example.org');
    await answer(term, 'SSH user');
    await answer(term, 'SSH port');
    await answer(term, 'SSH key');
    await answer(term, 'Known hosts');
    await answer(term, 'Deploy path', '/srv/mcp/ontology');
    await answer(term, 'Public domain', 'mcp.example.org');
    await answer(term, 'Target name');
    return term.waitFor(/enter (write|replace) \.mcpdeployrc/, 10_000);
  };

  it('takes a value pasted with its Enter as the answer and moves to the next question', async () => {
    const term = await open(exampleRepo());
    for (const label of ['App name', 'Source folder', 'Server entry', 'Requirements', 'Ontologies']) await answer(term, label);
    await term.waitFor('› SSH host', 10_000);
    // One write, as a terminal delivers a paste of a copied line: the value and its line break together.
    term.send('-l', 'paste.example.org\r');
    const screen = await term.waitFor('› SSH user', 10_000);
    expect(screen).toMatch(/SSH host +paste\.example\.org/);
  });

  it('shows what it found, takes the answers, shows the config, and writes it on enter', async () => {
    const root = exampleRepo();
    const term = await open(root);
    // Given the detected values on screen
    const first = term.screen();
    expect(first).toMatch(/server +ontology-server\/ — server\.py: serves "\/mcp"/);
    expect(first).toMatch(/Server entry +server\.py/);
    expect(first).toMatch(/Ontologies +ontologies\/\*\.ttl/);
    // When the detected values are taken and the rest typed
    const review = await acceptDetected(term);
    // Then the review shows the config as it will be written
    expect(review).toContain('"entry": "server.py",');
    expect(review).toContain('.mcpdeployrc as it will be written');
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
    // And enter writes it; the workflow is offered, and declined
    term.send('Enter');
    await term.waitFor(/Write \.github\/workflows\/mcp-deploy\.yml \(GitHub Actions.*\[y\/N\]/, 10_000);
    term.send('n');
    expect(await term.waitForExit(30_000)).toBe(0);
    expect(term.screen()).toMatch(/✔ Wrote \.mcpdeployrc: ontology-server/);
    const { config, target } = load(root);
    expect(config.runtime.entry).toBe('server.py');
    expect(target).toMatchObject({
      host: 'mcp.example.org',
      path: '/srv/mcp/ontology',
      publicUrl: 'https://mcp.example.org',
      user: 'deploy',
    });
    expect(existsSync(join(root, '.github'))).toBe(false);
  }, 90_000);

  it('q on the review writes nothing', async () => {
    const root = exampleRepo();
    const term = await open(root);
    await acceptDetected(term);
    term.send('q');
    expect(await term.waitForExit(30_000)).toBe(0);
    expect(term.screen()).toContain('Nothing was written.');
    expect(existsSync(join(root, '.mcpdeployrc'))).toBe(false);
  }, 90_000);

  it('asks before replacing an existing .mcpdeployrc, and keeps it by default', async () => {
    const root = exampleRepo();
    writeFileSync(join(root, '.mcpdeployrc'), '// mine\n');
    const term = await open(root);
    expect(term.screen()).toContain('.mcpdeployrc exists: you will be asked before it is replaced.');
    await acceptDetected(term);
    term.send('Enter');
    await term.waitFor('.mcpdeployrc already exists. Replace it? [y/N]', 10_000);
    term.send('Enter');
    expect(await term.waitForExit(30_000)).toBe(0);
    expect(term.screen()).toContain('Left .mcpdeployrc as it was: nothing was written.');
    expect(readFileSync(join(root, '.mcpdeployrc'), 'utf8')).toBe('// mine\n');
  }, 90_000);
});
