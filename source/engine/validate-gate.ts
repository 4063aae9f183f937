import type { Contract } from '../contract/contract.js';
import { DeployError } from '../errors.js';
import { runValidate, type ValidateResult, validateSteps } from '../validate/run-validate.js';
import type { EngineContext } from './context.js';
import { buildSteps } from './declared-steps.js';
import { buildStep } from './steps/build.js';

/** Step 1: the build, if any, then the local checks on what it made; a deploy never touches the host when they fail. */
export async function validateOnly(context: EngineContext): Promise<{ tools: string[]; contract: Contract | null }> {
  await buildStep(context);
  const result = await runValidate(context.config, context.bus, { signal: context.signal });
  if (!result.ok) {
    throw new DeployError('validate', 'Validation failed; nothing was changed on the host.', {
      hint: 'Fix what the checks above report, then deploy again (mcp-deploy validate runs them alone).',
    });
  }
  return { tools: result.tools, contract: result.contract };
}

/** `mcp-deploy validate`: the local checks as a run of their own, announced like any other. */
export async function validateRun(context: EngineContext, options: { readonly startServer: boolean }): Promise<ValidateResult> {
  const { bus } = context;
  const started = performance.now();
  bus.emit({
    kind: 'run:start',
    operation: 'validate',
    target: null,
    at: Date.now(),
    steps: [...buildSteps(context.config), ...validateSteps],
  });
  // The checks look at what the build made: a failed build is the whole answer.
  const builds = await buildStep(context).then(
    () => true,
    (error: unknown) => {
      if (context.signal.aborted) throw error;
      return false;
    },
  );
  if (!builds) {
    bus.emit({ kind: 'run:end', ok: false, ms: Math.round(performance.now() - started) });
    return { ok: false, tools: [], files: 0, contract: null };
  }
  const result = await runValidate(context.config, bus, { signal: context.signal, startServer: options.startServer });
  bus.emit({ kind: 'run:end', ok: result.ok, ms: Math.round(performance.now() - started) });
  return result;
}
