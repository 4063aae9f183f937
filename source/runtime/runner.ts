import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/load.js';
import type { HostLayout } from '../host/layout.js';
import type { InstallPlan } from './install-plan.js';
import { parsePackageJson, startScript } from './node-project.js';
import type { ServerValues } from './server-command.js';

/** What runs the server: the interpreter for `runtime.entry`, and package.json's start script when a node server has no entry. */
export type Runner = Pick<ServerValues, 'interpreter' | 'startScript'>;

/** For local validation: the configured interpreter, and the start script of the local package.json. */
export function localRunner(config: Pick<Config, 'runtime' | 'source'>): Runner {
  const { runtime } = config;
  if (runtime.type !== 'node') return { interpreter: runtime.python };
  return { interpreter: runtime.node, startScript: needsStartScript(runtime) ? readStartScript(config.source) : null };
}

/** On the host: a python entry runs on its release's venv; a node one on runtime.node. */
export function hostInterpreter(config: Pick<Config, 'runtime'>, layout: HostLayout, plan: InstallPlan): string {
  if (config.runtime.type === 'node') return config.runtime.node;
  return plan.kind === 'venv' ? `${layout.venvDir(plan.hash)}/bin/python` : config.runtime.python;
}

export function needsStartScript(runtime: Config['runtime']): boolean {
  return runtime.type === 'node' && runtime.entry === undefined && runtime.command === undefined;
}

/** The `start` script of package.json in `folder`, or null; a file that cannot be read has none. */
export function readStartScript(folder: string): string | null {
  let text: string;
  try {
    text = readFileSync(join(folder, 'package.json'), 'utf8');
  } catch {
    return null;
  }
  return startScript(parsePackageJson(text, 'package.json'));
}

/** The same from a package.json's text (a release's, read from the host). */
export function startScriptOf(text: string | null): string | null {
  return text === null ? null : startScript(parsePackageJson(text, 'package.json'));
}
