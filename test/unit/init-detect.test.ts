import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { detectProject, inspectFolder, localAnswerProblem, redactRemote, sanitizeAppName } from '../../source/ops/init-detect.js';

/** What `mcp-deploy init` finds in a repository before it asks anything. */

const exampleServer = new URL('../../examples/ontology-server/', import.meta.url).pathname;
const made: string[] = [];

function repo(files: Record<string, string>, options: { name?: string; remote?: string } = {}): string {
  const parent = mkdtempSync(join(tmpdir(), 'mcpd-init-detect-'));
  made.push(parent);
  const root = join(parent, options.name ?? 'project');
  mkdirSync(root, { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  if (options.remote !== undefined) {
    execFileSync('git', ['init', '-q'], { cwd: root });
    execFileSync('git', ['remote', 'add', 'origin', options.remote], { cwd: root });
  }
  return root;
}

afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const fastMcpServer = `from mcp.server.fastmcp import FastMCP

mcp = FastMCP("weather")

@mcp.custom_route("/health", methods=["GET"])
async def health(request):
    ...

@mcp.tool()
def forecast(city: str) -> str:
    return "sunny"

if __name__ == "__main__":
    mcp.run(transport="streamable-http")
`;

describe('init-detect: a FastMCP-style server', () => {
  it('finds the folder, its entry, requirements and Turtle files, and says why', async () => {
    // Given a repository with a FastMCP server in weather-mcp/, a helper, data, and decoys
    const root = repo(
      {
        'weather-mcp/server.py': fastMcpServer,
        'weather-mcp/helpers.py': 'def c_to_f(c):\n    return c * 9 / 5 + 32\n',
        'weather-mcp/requirements.txt': 'mcp[cli]>=1.9\nhttpx\n',
        'weather-mcp/data/stations.ttl': '@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\n',
        'weather-mcp/tests/test_server.py': 'from mcp.server.fastmcp import FastMCP\n',
        'node_modules/some-package/server.py': 'from mcp import Server\n',
        '.venv/lib/python3.12/site-packages/mcp/server.py': 'from mcp import Server\n',
        'README.md': '# weather\n',
      },
      { remote: 'https://ci-bot:ghp_SECRET123@github.com/acme/forecasts.git' },
    );
    // When it is scanned
    const detection = await detectProject(root);
    // Then the server is the FastMCP folder, and nothing was taken from tests, node_modules or .venv
    expect(detection.server).toMatchObject({
      folder: 'weather-mcp',
      entry: 'server.py',
      requirements: 'requirements.txt',
      ontologies: ['data/*.ttl'],
      mentionsHealth: true,
    });
    expect(detection.server!.reasons.join(' ')).toMatch(/server\.py: imports mcp, uses FastMCP/);
    expect(detection.server!.reasons).toContain('requirements.txt lists mcp');
    expect(detection.others).toEqual([]);
    // And the remote is shown without its token; the app is named after the server's folder
    expect(detection.gitRemote).toBe('https://github.com/acme/forecasts.git');
    expect(JSON.stringify(detection)).not.toContain('SECRET');
    expect(detection.app).toBe('weather-mcp');
    expect(detection.appReason).toMatch(/folder/);
    expect(detection.existingConfigs).toEqual([]);
  });

  it('names the app after the repository when the server sits in a generic folder', async () => {
    const root = repo({ 'src/main.py': fastMcpServer }, { remote: 'git@github.com:acme/Knowledge_Graph.git' });
    const detection = await detectProject(root);
    expect(detection.server).toMatchObject({ folder: 'src', entry: 'main.py', requirements: null, ontologies: [] });
    expect(detection.app).toBe('knowledge_graph');
    expect(detection.appReason).toMatch(/repository/);
  });

  it('ranks a real MCP server above a folder that only has a main.py', async () => {
    const root = repo({ 'tools/main.py': 'print("hello")\n', 'service/app.py': 'import mcp\n', 'service/main.py': 'print(1)\n' });
    const detection = await detectProject(root);
    expect(detection.server).toMatchObject({ folder: 'service', entry: 'app.py' });
    expect(detection.others.map((other) => other.folder)).toEqual(['tools']);
  });
});

describe('init-detect: the bundled example server', () => {
  it('finds server.py (not its ontology module), requirements.txt, ontologies/*.ttl and /health', async () => {
    // Given a repository with a copy of examples/ontology-server (its own config left out)
    const root = repo({ 'package.json': '{}' }, { name: 'knowledge' });
    cpSync(exampleServer, join(root, 'servers', 'ontology-server'), {
      recursive: true,
      filter: (path) => !path.includes('__pycache__') && !path.endsWith('.mcpdeployrc.json'),
    });
    // When it is scanned
    const detection = await detectProject(root);
    // Then
    expect(detection.server).toMatchObject({
      folder: 'servers/ontology-server',
      entry: 'server.py',
      requirements: 'requirements.txt',
      ontologies: ['ontologies/*.ttl'],
      mentionsHealth: true,
    });
    expect(detection.server!.reasons[0]).toMatch(/^server\.py: .*serves "\/mcp".*handles "tools\/list"/);
    expect(detection.server!.reasons).toContain('2 Turtle files (ontologies/*.ttl)');
    expect(detection.gitRemote).toBeNull();
    expect(detection.app).toBe('ontology-server');
  });

  it('inspects a folder named by hand the same way', () => {
    const facts = inspectFolder(join(exampleServer, '..'), 'ontology-server');
    expect(facts).toMatchObject({
      folder: 'ontology-server',
      entry: 'server.py',
      requirements: 'requirements.txt',
      ontologies: ['ontologies/*.ttl'],
    });
  });
});

describe('init-detect: no server at all', () => {
  it('finds nothing, and still suggests a valid app name from the folder', async () => {
    const root = repo(
      { 'README.md': '# notes\n', 'index.js': 'console.log(1)\n', 'scripts/util.py': 'def add(a, b):\n    return a + b\n' },
      { name: 'My Notes!' },
    );
    const detection = await detectProject(root);
    expect(detection.server).toBeNull();
    expect(detection.others).toEqual([]);
    expect(detection.gitRemote).toBeNull();
    expect(detection.app).toBe('my-notes');
  });

  it('reports config files that are already there', async () => {
    const root = repo({ '.mcpdeployrc.json': '{}' });
    expect((await detectProject(root)).existingConfigs).toEqual(['.mcpdeployrc.json']);
  });
});

describe('init-detect: helpers', () => {
  it('makes app names the config accepts, or none', () => {
    expect(sanitizeAppName('Ontology Server')).toBe('ontology-server');
    expect(sanitizeAppName('--weird__name--')).toBe('weird__name');
    expect(sanitizeAppName('repo.git')).toBe('repo');
    expect(sanitizeAppName('x'.repeat(100))).toHaveLength(63);
    expect(sanitizeAppName('***')).toBeNull();
  });

  it('takes credentials out of remote URLs and leaves scp-style ones alone', () => {
    expect(redactRemote('https://user:token@github.com/a/b.git')).toBe('https://github.com/a/b.git');
    expect(redactRemote('ssh://git@example.org:2222/a/b.git')).toBe('ssh://example.org:2222/a/b.git');
    expect(redactRemote('git@github.com:a/b.git')).toBe('git@github.com:a/b.git');
  });

  it('checks that local answers point at real files', () => {
    const root = join(exampleServer, '..');
    expect(localAnswerProblem(root, 'source', { source: 'ontology-server', value: 'ontology-server' })).toBeNull();
    expect(localAnswerProblem(root, 'source', { source: 'nope', value: 'nope' })).toMatch(/no folder nope/);
    expect(localAnswerProblem(root, 'entry', { source: 'ontology-server', value: 'server.py' })).toBeNull();
    expect(localAnswerProblem(root, 'entry', { source: 'ontology-server', value: 'serve.py' })).toMatch(/no file serve\.py/);
    expect(localAnswerProblem(root, 'requirements', { source: 'ontology-server', value: '' })).toBeNull();
    expect(localAnswerProblem(root, 'ontologies', { source: 'ontology-server', value: 'ontologies/*.ttl, *.ttl' })).toMatch(
      /\*\.ttl matches no file/,
    );
  });
});

describe('init-detect: Node and pyproject servers', () => {
  const tsServer = {
    'servers/weather-ts/package.json': JSON.stringify({
      name: 'weather-ts',
      main: 'dist/index.js',
      scripts: { build: 'tsc', start: 'node dist/index.js' },
      dependencies: { '@modelcontextprotocol/sdk': '^1.20.0' },
      devDependencies: { typescript: '^5.9.0' },
    }),
    'servers/weather-ts/package-lock.json': '{"lockfileVersion": 3}',
    'servers/weather-ts/tsconfig.json': '{\n  // the compiled server\n  "compilerOptions": { "outDir": "./dist/", },\n}\n',
    'servers/weather-ts/src/index.ts': 'app.get("/health", (_req, res) => res.json({ status: "ok" }));\n',
    'web/package.json': JSON.stringify({ name: 'site', scripts: { build: 'vite build' }, dependencies: { react: '^19.0.0' } }),
  };

  it('finds a TypeScript server by the MCP SDK among its dependencies, with its lockfile, build and built entry', async () => {
    const root = repo(tsServer);
    const detection = await detectProject(root);
    expect(detection.server).toMatchObject({
      folder: 'servers/weather-ts',
      entry: 'dist/index.js',
      requirements: null,
      mentionsHealth: true,
      runtime: {
        type: 'node',
        lockfile: 'package-lock.json',
        manager: 'npm',
        entry: 'dist/index.js',
        build: { command: 'npm run build', output: 'dist' },
      },
    });
    expect(detection.server!.reasons).toEqual(
      expect.arrayContaining(['package.json depends on @modelcontextprotocol/sdk', 'TypeScript, built by npm run build into dist/']),
    );
    // A package.json without an MCP SDK (the web front end) is no server.
    expect(detection.others.map((other) => other.folder)).toEqual([]);
    expect(detection.app).toBe('weather-ts');
    // The built entry does not exist before the first build, and that is fine; another file is not.
    expect(localAnswerProblem(root, 'entry', { source: 'servers/weather-ts', value: 'dist/index.js' })).toBeNull();
    expect(localAnswerProblem(root, 'entry', { source: 'servers/weather-ts', value: 'index.js' })).toMatch(/no file index\.js/);
  });

  it('runs pnpm’s build for a pnpm project, and reads the entry from the start script', () => {
    const root = repo({
      'package.json': JSON.stringify({
        name: 'x',
        scripts: { build: 'tsc -p .', start: 'node --enable-source-maps build/server.js' },
        dependencies: { '@modelcontextprotocol/server': '2.4.0' },
      }),
      'pnpm-lock.yaml': 'lockfileVersion: 9.0\n',
    });
    expect(inspectFolder(root, '.')).toMatchObject({
      entry: 'build/server.js',
      runtime: { type: 'node', lockfile: 'pnpm-lock.yaml', manager: 'pnpm', build: { command: 'pnpm run build', output: 'build' } },
    });
  });

  it('takes pyproject.toml as what a Python server installs from when there is no requirements.txt, and notes uv.lock', async () => {
    const root = repo({
      'weather/server.py': fastMcpServer,
      'weather/pyproject.toml': '[project]\nname = "weather"\ndependencies = ["mcp[cli]>=1.9"]\n',
      'weather/uv.lock': 'version = 1\n',
    });
    const detection = await detectProject(root);
    expect(detection.server).toMatchObject({
      folder: 'weather',
      entry: 'server.py',
      requirements: 'pyproject.toml',
      runtime: { type: 'python', requirements: 'pyproject.toml', uvLock: true },
    });
    expect(detection.server!.reasons).toContain(
      'pyproject.toml depends on mcp: its dependencies go into a cached venv (from uv.lock where the host has uv)',
    );
  });
});
