import { resolve } from 'node:path';
import { sandboxDown, sandboxUp } from '../../sandbox/sandbox.js';

export const defaultSandboxDir = '.sandbox';

/** `mcp-deploy sandbox up|down`: a local target with its own nginx, for trying mcp-deploy out. */
export async function sandboxCommand(action: string, options: { dir?: string; source?: string }): Promise<number> {
  const dir = options.dir ?? defaultSandboxDir;
  if (action === 'down') {
    const stopped = sandboxDown(dir);
    process.stdout.write(stopped.length > 0 ? `Stopped ${stopped.length} sandbox process(es).\n` : 'Nothing was running in the sandbox.\n');
    return 0;
  }
  const sandbox = await sandboxUp({ dir, source: options.source ?? resolve('examples/ontology-server') });
  process.stdout.write(`Sandbox ready: nginx on ${sandbox.publicUrl}\nConfig: ${sandbox.configFile}\n`);
  return 0;
}
