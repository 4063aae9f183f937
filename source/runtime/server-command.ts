import type { Config } from '../config/load.js';
import { command, quote } from '../remote/quote.js';

export type ServerValues = {
  readonly port: number;
  readonly release: string;
  readonly host: string;
  /**
   * What runs `runtime.entry`: for python `<venv>/bin/python` on a host (runtime.python locally),
   * for node runtime.node.
   */
  readonly interpreter: string;
  /** For node without an entry: package.json's `start` script, read from the release that starts. */
  readonly startScript?: string | null;
};

export type ServerCommand = {
  /** POSIX sh text; run it with `sh -c` in the release folder. */
  readonly script: string;
  readonly env: Record<string, string>;
};

const placeholders = ['port', 'release', 'host'] as const;
type Placeholder = (typeof placeholders)[number];

/**
 * How to start the server, shared by local validation and the remote start so both run exactly
 * the same thing. The script always begins with `exec`, so the server replaces the shell: its PID
 * is the one we track and SIGTERM reaches it directly instead of stopping at `sh`.
 *
 * In `runtime.command`, `{port}`, `{release}` and `{host}` become shell-quoted words, so a value can
 * never inject shell syntax; a placeholder must therefore not sit inside quotes in the template.
 * `runtime.env` values are substituted verbatim, since they are values, not shell text.
 * PORT, HOST and RELEASE_ID are always set; `runtime.env` may override them (its own choice).
 */
export function serverCommand(runtime: Config['runtime'], values: ServerValues): ServerCommand {
  const substitutions: Record<Placeholder, string> = {
    port: String(values.port),
    release: values.release,
    host: values.host,
  };
  const env: Record<string, string> = { PORT: substitutions.port, HOST: values.host, RELEASE_ID: values.release };
  let script: string;
  if (runtime.command !== undefined) {
    script = `exec ${fill(runtime.command, substitutions, quote)}`;
  } else if (runtime.entry !== undefined) {
    script =
      runtime.type === 'node'
        ? `exec ${command([values.interpreter, runtime.entry])}`
        : `exec ${command([values.interpreter, '-u', runtime.entry])}`;
  } else if (runtime.type === 'node' && values.startScript) {
    script = startScriptCommand(values.startScript, runtime.node);
  } else if (runtime.type === 'node') {
    throw new Error('runtime.type "node" needs runtime.entry or a "start" script in package.json');
  } else {
    // The schema refuses this combination; kept as a guard for hand-built configs.
    throw new Error('runtime needs "command" or "entry"');
  }
  if (runtime.type === 'python') env['PYTHONUNBUFFERED'] = '1';
  for (const [name, template] of Object.entries(runtime.env)) {
    env[name] = fill(template, substitutions, (value) => value);
  }
  return { script, env };
}

/**
 * package.json's start script as `npm start` would run it (node_modules/.bin first on PATH), but
 * without npm in between. A plain command line is exec'd by this shell, so the server is the
 * process we track and signal; leading `NAME=value` assignments stay in front of `exec`, which
 * keeps them for the server. Anything with shell operators, quotes or expansions runs under its
 * own `sh -c`, as npm would run it; that shell stays between us and the server (dash does not
 * exec a lone command), so such a server is best given as runtime.entry.
 */
export function startScriptCommand(start: string, node = 'node'): string {
  // An absolute runtime.node is the node the script's own `node` must find too.
  const nodeDir = node.includes('/') ? `${quote(node.slice(0, node.lastIndexOf('/')) || '/')}:` : '';
  const path = `PATH="$PWD/node_modules/.bin":${nodeDir}"$PATH"`;
  const plain = /^[A-Za-z0-9_@%+=:,./ \t-]+$/.test(start);
  if (!plain) return `${path} exec sh -c ${quote(start)}`;
  const match = /^((?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*)(.+)$/.exec(start.trim());
  const assignments = match?.[1] ?? '';
  const rest = match?.[2] ?? start.trim();
  return `${path} ${assignments}exec ${rest}`;
}

function fill(template: string, values: Record<Placeholder, string>, encode: (value: string) => string): string {
  // One pass over the template, so a substituted value containing "{port}" is not expanded again.
  return template.replace(/\{(port|release|host)\}/g, (_match, name: Placeholder) => encode(values[name]));
}
