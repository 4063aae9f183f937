import { DeployError, isDeployError } from '../../errors.js';
import { LocalTransport } from '../../remote/local-transport.js';
import { runStep, StepFailure, StepSkipped } from '../../run/step.js';
import type { EngineContext } from '../context.js';

/** Runs whose build already ran: the terminal app builds before its plan, then deploys the same files. */
const built = new WeakSet<EngineContext>();
const tailLines = 30;

/**
 * The local build (`build.command`), before validation and hashing: what ships is what it made.
 * It runs in the source folder on this machine, its output streams into the log, and a failure
 * stops the run before anything touches the host, with the build's last lines.
 */
export async function buildStep(context: EngineContext): Promise<void> {
  const { build } = context.config;
  if (build === undefined) return;
  await runStep(context, 'build', `Build: ${build.command}`, async (step) => {
    if (built.has(context)) throw new StepSkipped('built already in this run, before the plan');
    const tail: string[] = [];
    const onLine = (line: string) => {
      tail.push(line);
      if (tail.length > tailLines) tail.shift();
      step.log(line);
    };
    let code: number | null;
    try {
      ({ code } = await new LocalTransport().stream(
        { script: build.command },
        { cwd: context.config.source, onLine, timeoutMs: build.timeoutSeconds * 1000, signal: context.signal },
      ));
    } catch (error) {
      if (isDeployError(error) && error.kind === 'timeout') {
        throw new StepFailure(
          `The build did not finish within ${build.timeoutSeconds} s and was stopped; nothing was changed on the host.`,
          lastLines(tail),
          {
            hint: 'Give it longer with build.timeoutSeconds, or make it faster.',
          },
        );
      }
      throw error;
    }
    if (code === null)
      throw context.signal.reason instanceof Error ? context.signal.reason : new DeployError('deploy', 'The build was stopped.');
    if (code !== 0) {
      throw new StepFailure(`The build failed (${build.command} exited ${code}); nothing was changed on the host.`, lastLines(tail), {
        hint: 'Its own output is above. Run the command in the source folder to see all of it.',
      });
    }
    built.add(context);
    step.detail(build.output === undefined ? 'the whole source folder ships' : `ships ${[build.output].flat().join(', ')}`);
  });
}

function lastLines(tail: readonly string[]): string[] {
  return tail.length === 0 ? ['(the build printed nothing)'] : ['last lines of the build:', ...tail.map((line) => `  ${line}`)];
}
