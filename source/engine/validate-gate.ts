import { DeployError } from '../errors.js';
import { runValidate } from '../validate/run-validate.js';
import type { EngineContext } from './context.js';

/** Step 1: the local checks; a deploy never touches the host when they fail. */
export async function validateOnly(context: EngineContext): Promise<{ tools: string[] }> {
  const result = await runValidate(context.config, context.bus, { signal: context.signal });
  if (!result.ok) {
    throw new DeployError('validate', 'Validation failed; nothing was changed on the host.', {
      hint: 'Fix what the checks above report, then deploy again (mcp-deploy validate runs them alone).',
    });
  }
  return { tools: result.tools };
}
