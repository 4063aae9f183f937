import { restart } from '../../engine/restart.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { createRunContext } from '../run-context.js';
import { finish } from './deploy-command.js';

/** `mcp-deploy restart [--force]`: the active release onto the other colour, through the full cutover. */
export async function restartCommand(options: GlobalOptions, output: Output): Promise<number> {
  // One line per step, in a terminal too: a restart asks nothing and has no plan to show.
  const context = createRunContext(options, output, { plain: true });
  try {
    return finish(await restart(context, { force: options.force ?? false }), output);
  } finally {
    context.dispose();
  }
}
