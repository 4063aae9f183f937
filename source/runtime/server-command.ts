import type { Config } from '../config/load.js';
import { command, quote } from '../remote/quote.js';

export type ServerValues = {
  readonly port: number;
  readonly release: string;
  readonly host: string;
  /** Interpreter to run a python entry with: `<venv>/bin/python` on a host, `python3` locally. */
  readonly python: string;
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
    script = `exec ${command([values.python, '-u', runtime.entry])}`;
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

function fill(template: string, values: Record<Placeholder, string>, encode: (value: string) => string): string {
  // One pass over the template, so a substituted value containing "{port}" is not expanded again.
  return template.replace(/\{(port|release|host)\}/g, (_match, name: Placeholder) => encode(values[name]));
}
