import { validateRun } from '../../engine/validate-gate.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext } from '../run-context.js';

/** `mcp-deploy validate`: the local checks alone; exit 0 only when every check passed. */
export async function validateCommand(options: GlobalOptions & { server?: boolean }): Promise<number> {
  const context = createRunContext(options, { plain: true });
  try {
    const result = await validateRun(context, { startServer: options.server !== false });
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: result.ok, tools: result.tools, files: result.files }, null, 2)}\n`);
    return result.ok ? 0 : 1;
  } finally {
    context.dispose();
  }
}
