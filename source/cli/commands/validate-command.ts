import { runValidate } from '../../validate/run-validate.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext } from '../run-context.js';

/** `mcp-deploy validate`: the local checks alone; exit 0 only when every check passed. */
export async function validateCommand(options: GlobalOptions & { server?: boolean }): Promise<number> {
  const context = createRunContext(options, { plain: true });
  try {
    const started = performance.now();
    context.bus.emit({ kind: 'run:start', operation: 'validate', target: null, at: Date.now() });
    const result = await runValidate(context.config, context.bus, { signal: context.signal, startServer: options.server !== false });
    context.bus.emit({ kind: 'run:end', ok: result.ok, ms: Math.round(performance.now() - started) });
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: result.ok, tools: result.tools, files: result.files }, null, 2)}\n`);
    return result.ok ? 0 : 1;
  } finally {
    context.dispose();
  }
}
