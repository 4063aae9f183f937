import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeployError } from '../../source/errors.js';
import { listSourceFiles, type SkippedEntry, type SourceEntry } from '../../source/project/source-files.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-deploy-source-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(path: string, content = 'x'): Promise<void> {
  const full = join(root, path);
  await mkdir(join(full, '..'), { recursive: true });
  await writeFile(full, content);
}

const pathsOf = (entries: readonly SourceEntry[]) => entries.map((entry) => entry.path);

describe('listSourceFiles', () => {
  it('lists dirs and files sorted by path, with sizes, modes and absolute paths', async () => {
    await put('server.py', 'print(1)\n');
    await put('pkg/b.py', '');
    await put('pkg/a.py', 'abc');
    await chmod(join(root, 'server.py'), 0o755);
    const entries = await listSourceFiles({ source: root, exclude: [] });
    expect(pathsOf(entries)).toEqual(['pkg', 'pkg/a.py', 'pkg/b.py', 'server.py']);
    const server = entries.find((entry) => entry.path === 'server.py');
    expect(server).toEqual({ kind: 'file', path: 'server.py', absolutePath: expect.stringMatching(/server\.py$/), size: 9, mode: 0o755 });
    expect(entries[0]).toMatchObject({ kind: 'dir', path: 'pkg' });
  });

  it('always leaves out .git, __pycache__, *.pyc, .venv and node_modules, even against a negation', async () => {
    for (const path of [
      '.git/HEAD',
      '__pycache__/m.cpython-311.pyc',
      'pkg/__pycache__/x.pyc',
      'stray.pyc',
      '.venv/bin/python',
      'node_modules/a/index.js',
    ]) {
      await put(path);
    }
    await put('keep.py');
    await put('.env', 'SECRET=1');
    await put('.mcpdeployrc', '{}');
    const entries = await listSourceFiles({ source: root, exclude: ['!node_modules/', '!*.pyc'] });
    expect(pathsOf(entries)).toEqual(['.env', '.mcpdeployrc', 'keep.py', 'pkg']);
  });

  it('honours exclude with gitignore semantics: globs, anchored paths, directories, negation', async () => {
    for (const path of ['app.log', 'logs/today.log', 'build/out.js', 'src/build/keep.js', 'docs/a.md', 'docs/keep.md', 'tests/t.py'])
      await put(path);
    const entries = await listSourceFiles({ source: root, exclude: ['*.log', '/build/', 'docs/*.md', '!docs/keep.md', 'tests'] });
    expect(pathsOf(entries)).toEqual(['docs', 'docs/keep.md', 'logs', 'src', 'src/build', 'src/build/keep.js']);
  });

  it('keeps odd file names intact: spaces, quotes, newlines, unicode', async () => {
    const odd = ['with space.py', 'it\'s "quoted".txt', 'new\nline.txt', 'ünïcødé ✓.ttl', '-dash', '...'];
    for (const name of odd) await put(name, name);
    const entries = await listSourceFiles({ source: root, exclude: ['*.txt', '!new*'] });
    expect(pathsOf(entries).sort()).toEqual(['-dash', '...', 'new\nline.txt', 'with space.py', 'ünïcødé ✓.ttl'].sort());
    const unicode = entries.find((entry) => entry.path === 'ünïcødé ✓.ttl');
    expect(unicode).toMatchObject({ kind: 'file', size: Buffer.byteLength('ünïcødé ✓.ttl') });
  });

  it('keeps a relative symlink that stays inside the tree as a symlink', async () => {
    await put('data/real.ttl');
    await symlink('real.ttl', join(root, 'data/alias.ttl'));
    await symlink('data', join(root, 'data-link'));
    const entries = await listSourceFiles({ source: root, exclude: [] });
    expect(entries.find((entry) => entry.path === 'data/alias.ttl')).toEqual({
      kind: 'symlink',
      path: 'data/alias.ttl',
      target: 'real.ttl',
    });
    // Not followed: nothing is listed "through" the directory link.
    expect(entries.find((entry) => entry.path === 'data-link')).toEqual({ kind: 'symlink', path: 'data-link', target: 'data' });
    expect(pathsOf(entries).some((path) => path.startsWith('data-link/'))).toBe(false);
  });

  it('refuses an absolute symlink and one that climbs out, naming the link and its target', async () => {
    await put('ok.py');
    await symlink('/etc/passwd', join(root, 'link'));
    const absolute = await listSourceFiles({ source: root, exclude: [] }).catch((error: unknown) => error);
    expect(absolute).toBeInstanceOf(DeployError);
    expect((absolute as DeployError).kind).toBe('validate');
    expect((absolute as DeployError).message).toBe(
      'link -> /etc/passwd points outside the source folder; ship the file itself or exclude the link',
    );

    await rm(join(root, 'link'));
    await put('sub/x');
    await symlink('../../outside', join(root, 'sub/up'));
    await expect(listSourceFiles({ source: root, exclude: [] })).rejects.toThrow(
      'sub/up -> ../../outside points outside the source folder',
    );
  });

  it('refuses a link that escapes through another link (d -> ., x -> d/..)', async () => {
    await symlink('.', join(root, 'd'));
    await symlink('d/..', join(root, 'x'));
    await expect(listSourceFiles({ source: root, exclude: [] })).rejects.toThrow('x -> d/.. points outside the source folder');
  });

  it('accepts an outside link once it is excluded', async () => {
    await put('ok.py');
    await symlink('/etc/passwd', join(root, 'link'));
    const entries = await listSourceFiles({ source: root, exclude: ['link'] });
    expect(pathsOf(entries)).toEqual(['ok.py']);
  });

  it('does not hang on symlink loops and keeps them as links', async () => {
    await mkdir(join(root, 'a'));
    await symlink('../a', join(root, 'a/loop'));
    await symlink('self', join(root, 'self'));
    await symlink('ping', join(root, 'pong'));
    await symlink('pong', join(root, 'ping'));
    const entries = await Promise.race([
      listSourceFiles({ source: root, exclude: [] }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('listing hung')), 5_000)),
    ]);
    expect(pathsOf(entries)).toEqual(['a', 'a/loop', 'ping', 'pong', 'self']);
    expect(entries.filter((entry) => entry.kind === 'symlink')).toHaveLength(4);
  });

  it('skips sockets and fifos with a reason', async () => {
    await put('ok.py');
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const socketPath = join(root, 'sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const skipped: SkippedEntry[] = [];
      const entries = await listSourceFiles({ source: root, exclude: [] }, { onSkipped: (entry) => skipped.push(entry) });
      expect(pathsOf(entries)).toEqual(['ok.py']);
      expect(skipped.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
        { path: 'pipe', reason: 'a named pipe (fifo) cannot be shipped' },
        { path: 'sock', reason: 'a socket cannot be shipped' },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('says which folder is missing', async () => {
    await expect(listSourceFiles({ source: join(root, 'nope'), exclude: [] })).rejects.toThrow(
      /Source folder .*nope cannot be read: ENOENT/,
    );
  });
});
