import { Chalk } from 'chalk';
import { exitCodes, isDeployError } from '../errors.js';

/**
 * The one place that turns an error that escaped a command into a message and an exit code.
 * A DeployError is the operator's to fix and says how; anything else is our bug and says so.
 */
export function reportFatal(error: unknown, write: (text: string) => void, color: boolean): number {
  const paint = new Chalk({ level: color ? 1 : 0 });
  if (isDeployError(error)) {
    write(`${paint.red('✖')} ${error.message}\n`);
    if (error.hint) write(`  ${paint.cyan(`→ ${error.hint}`)}\n`);
    return error.exitCode;
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  write(`${paint.red('✖ mcp-deploy hit an internal error (a bug, not your setup):')}\n${detail}\n`);
  write(`  ${paint.cyan('→ Please report it with the output above. The host lock, if taken, was released.')}\n`);
  return exitCodes.bug;
}
