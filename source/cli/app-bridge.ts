import type { GlobalOptions } from './options.js';
import { deployCommand, rollbackCommand } from './commands/deploy-command.js';

export type AppView = 'deploy' | 'rollback' | 'releases' | 'logs';

/**
 * Where the Ink app plugs in. Until the app lands, a terminal gets the plain reporter too, so
 * every command works the same with and without a TTY.
 */
export async function runApp(view: AppView, options: GlobalOptions, release?: string): Promise<number> {
  const plain = { ...options, yes: true };
  if (view === 'rollback') return rollbackCommand(release, plain);
  return deployCommand(plain);
}
