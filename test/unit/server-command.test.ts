import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../source/config/load.js';
import { serverCommand } from '../../source/runtime/server-command.js';

function runtimeOf(runtime: Record<string, unknown>) {
  const config = parseConfig(
    JSON.stringify({
      app: 'demo',
      runtime,
      targets: { local: { transport: 'local', path: '/tmp/demo', publicUrl: 'http://127.0.0.1:8080' } },
    }),
    '/tmp/server-command-test/.mcpdeployrc',
    {},
  );
  return config.runtime;
}

const values = { port: 5002, release: '20261124T101500Z-abc1234', host: '127.0.0.1', interpreter: '/srv/app/venvs/abc/bin/python' };

/** What `sh` makes of the script: each argv word of the exec'd command, one per line. */
function wordsOf(script: string): string[] {
  const probe = script.replace(/^exec /, "exec printf '%s\\n' ");
  return execFileSync('sh', ['-c', probe], { encoding: 'utf8' }).split('\n').slice(0, -1);
}

describe('serverCommand', () => {
  it('runs a python entry unbuffered with exec, and sets PORT, HOST, RELEASE_ID, PYTHONUNBUFFERED', () => {
    const result = serverCommand(runtimeOf({ type: 'python', entry: 'server.py' }), values);
    expect(result.script).toBe('exec /srv/app/venvs/abc/bin/python -u server.py');
    expect(result.env).toEqual({ PORT: '5002', HOST: '127.0.0.1', RELEASE_ID: values.release, PYTHONUNBUFFERED: '1' });
  });

  it('quotes an entry and an interpreter path with spaces and quotes so sh sees one word each', () => {
    const result = serverCommand(runtimeOf({ type: 'python', entry: "my app/it's.py" }), {
      ...values,
      interpreter: '/opt/py thon/bin/python',
    });
    expect(wordsOf(result.script)).toEqual(['/opt/py thon/bin/python', '-u', "my app/it's.py"]);
  });

  it('fills a command template with shell-quoted values and prepends exec', () => {
    const result = serverCommand(
      runtimeOf({ type: 'command', command: 'node dist/server.js --port {port} --host {host} --release {release}' }),
      values,
    );
    expect(result.script).toBe(`exec node dist/server.js --port 5002 --host 127.0.0.1 --release ${values.release}`);
    expect(result.env['PYTHONUNBUFFERED']).toBeUndefined();
    expect(result.env['PORT']).toBe('5002');
  });

  it('cannot be made to run extra shell commands through a substituted value', () => {
    const hostile = { ...values, release: "x'; touch /tmp/pwned; echo '$(id)" };
    const result = serverCommand(runtimeOf({ type: 'command', command: 'app --release {release} --port {port}' }), hostile);
    expect(wordsOf(result.script)).toEqual(['app', '--release', hostile.release, '--port', '5002']);
  });

  it('substitutes runtime.env templates verbatim (they are values, not shell) and lets them add variables', () => {
    const result = serverCommand(
      runtimeOf({
        type: 'python',
        entry: 'server.py',
        env: { PUBLIC_URL: 'http://{host}:{port}/', RELEASE_TAG: 'rel {release}', PLAIN: 'a b' },
      }),
      { ...values, release: "r'1" },
    );
    expect(result.env['PUBLIC_URL']).toBe('http://127.0.0.1:5002/');
    expect(result.env['RELEASE_TAG']).toBe("rel r'1");
    expect(result.env['PLAIN']).toBe('a b');
  });

  it('leaves unknown braces alone and does not re-expand placeholders inside values', () => {
    const result = serverCommand(runtimeOf({ type: 'command', command: "awk '{print}' {name} {release}" }), {
      ...values,
      release: '{port}',
    });
    expect(result.script).toBe(`exec awk '{print}' {name} '{port}'`);
  });

  it('prefers runtime.command over entry for python', () => {
    const result = serverCommand(runtimeOf({ type: 'python', entry: 'server.py', command: 'gunicorn app:app -b {host}:{port}' }), values);
    expect(result.script).toBe('exec gunicorn app:app -b 127.0.0.1:5002');
    expect(result.env['PYTHONUNBUFFERED']).toBe('1');
  });

  it('runs a node entry with the configured node, and sets no PYTHONUNBUFFERED', () => {
    const result = serverCommand(runtimeOf({ type: 'node', entry: 'dist/server.js' }), { ...values, interpreter: '/opt/node 24/bin/node' });
    expect(wordsOf(result.script)).toEqual(['/opt/node 24/bin/node', 'dist/server.js']);
    expect(result.env['PYTHONUNBUFFERED']).toBeUndefined();
  });

  it("runs package.json's start script without npm: exec'd when it is a plain command line, with node_modules/.bin first", () => {
    const node = runtimeOf({ type: 'node' });
    const plain = serverCommand(node, { ...values, interpreter: 'node', startScript: 'NODE_ENV=production node dist/index.js --port 1' });
    expect(plain.script).toBe('PATH="$PWD/node_modules/.bin":"$PATH" NODE_ENV=production exec node dist/index.js --port 1');
    // What sh runs: the program itself, with the assignment in its environment and the bin folder on PATH.
    const probe = plain.script.replace('exec node', `exec sh -c 'printf "%s|%s|%s\\n" "$NODE_ENV" "\${PATH%%:*}" "$*"' sh`);
    expect(execFileSync('sh', ['-c', probe], { encoding: 'utf8', cwd: '/tmp' }).trim()).toBe(
      'production|/tmp/node_modules/.bin|dist/index.js --port 1',
    );
    const compound = serverCommand(node, { ...values, interpreter: 'node', startScript: 'node migrate.js && node "dist/my server.js"' });
    expect(compound.script).toBe(`PATH="$PWD/node_modules/.bin":"$PATH" exec sh -c 'node migrate.js && node "dist/my server.js"'`);
    const absolute = serverCommand(runtimeOf({ type: 'node', node: '/opt/node/bin/node' }), {
      ...values,
      interpreter: '/opt/node/bin/node',
      startScript: 'node x.js',
    });
    expect(absolute.script).toBe('PATH="$PWD/node_modules/.bin":/opt/node/bin:"$PATH" exec node x.js');
  });

  it('refuses a node runtime with neither an entry nor a start script', () => {
    expect(() => serverCommand(runtimeOf({ type: 'node' }), { ...values, interpreter: 'node', startScript: null })).toThrow(
      'needs runtime.entry',
    );
  });
});
