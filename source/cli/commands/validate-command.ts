import { validateRun } from '../../engine/validate-gate.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';

/** `mcp-deploy validate`: the local checks alone; exit 0 only when every check passed. */
export async function validateCommand(options: GlobalOptions & { server?: boolean }, output: Output): Promise<number> {
  const context = createRunContext(options, output, { plain: true });
  try {
    const result = await validateRun(context, { startServer: options.server !== false });
    if (output.json) output.document({ ok: result.ok, tools: result.tools, files: result.files, exitCode: result.ok ? 0 : 1 });
    return result.ok ? 0 : 1;
  } finally {
    context.dispose();
  }
}
