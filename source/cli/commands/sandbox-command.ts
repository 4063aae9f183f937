import { resolve } from 'node:path';
import { sandboxDown, sandboxUp } from '../../sandbox/sandbox.js';
import type { Output } from '../output.js';

export const defaultSandboxDir = '.sandbox';

/** `mcp-deploy sandbox up|down`: a local target with its own nginx, for trying mcp-deploy out. */
export async function sandboxCommand(action: string, options: { dir?: string; source?: string }, output: Output): Promise<number> {
  const dir = options.dir ?? defaultSandboxDir;
  if (action === 'down') {
    const stopped = await sandboxDown(dir);
    output.line(stopped.length > 0 ? `Stopped ${stopped.length} sandbox process(es).` : 'Nothing was running in the sandbox.');
    return 0;
  }
  const sandbox = await sandboxUp({ dir, source: options.source ?? resolve('examples/ontology-server') });
  output.line(`Sandbox ready: nginx on ${sandbox.publicUrl}\nConfig: ${sandbox.configFile}`);
  return 0;
}
