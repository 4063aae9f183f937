import type { Config } from '../config/load.js';
import type { DeclaredStep } from '../run/step-ids.js';
import { validateSteps } from '../validate/run-validate.js';

/**
 * The steps of a deploy and of a rollback, in order, as data: the engine announces them in
 * `run:start`, and the terminal checklist and the plain reporter render them from there. Titles
 * are generic; each step's own title (which names the colour, the port, the release) replaces
 * its row's when it starts.
 */

/** From the start of the idle colour to the unlock: the same for a deploy and a rollback. */
function cutoverSteps(config: Pick<Config, 'watch'>): DeclaredStep[] {
  const watched = config.watch !== undefined && config.watch.seconds > 0 && config.watch.accessLog !== undefined;
  return [
    { id: 'start', title: 'Start the idle colour' },
    { id: 'health', title: 'Health-check it' },
    { id: 'contract', title: 'Compare the MCP contract' },
    { id: 'switch', title: 'Switch nginx' },
    { id: 'verify', title: 'Verify through the public URL' },
    ...(watched ? [{ id: 'watch' as const, title: 'Watch it under real traffic' }] : []),
    { id: 'finalize', title: 'Record it as active' },
    { id: 'drain', title: 'Drain and stop the old colour' },
    { id: 'prune', title: 'Prune old releases' },
    { id: 'audit', title: 'Write the audit log and unlock' },
  ];
}

export function deploySteps(config: Pick<Config, 'watch'>, options: { readonly validate: boolean }): readonly DeclaredStep[] {
  return [
    ...(options.validate ? validateSteps : []),
    { id: 'prepare', title: 'Hash the release files' },
    { id: 'connect', title: 'Connect and take the lock' },
    { id: 'upload', title: 'Upload the release' },
    { id: 'install', title: 'Install dependencies' },
    ...cutoverSteps(config),
  ];
}

export function rollbackSteps(config: Pick<Config, 'watch'>): readonly DeclaredStep[] {
  return [{ id: 'connect', title: 'Connect and take the lock' }, { id: 'choose', title: 'Choose the release' }, ...cutoverSteps(config)];
}
