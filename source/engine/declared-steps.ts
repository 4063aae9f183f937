import type { Config } from '../config/load.js';
import type { DeclaredStep } from '../run/step-ids.js';
import { validateSteps } from '../validate/run-validate.js';
import { hookOf, hookSteps, type HookName } from './steps/hooks.js';

/**
 * The steps of a deploy, a rollback, a restart and a prune, in order, as data: the engine announces them in
 * `run:start`, and the terminal checklist and the plain reporter render them from there. Titles
 * are generic; each step's own title (which names the colour, the port, the release) replaces
 * its row's when it starts.
 */

type StepsConfig = Partial<Pick<Config, 'watch' | 'shared' | 'hooks' | 'build' | 'drain' | 'auth'>>;

/** Linking shared.dirs and shared.files into the release: only declared when there are some. */
function linkSteps(config: StepsConfig): DeclaredStep[] {
  const shared = config.shared;
  return shared !== undefined && shared.dirs.length + shared.files.length > 0
    ? [{ id: 'link', title: 'Link the shared folders and files' }]
    : [];
}

/** A configured hook's step, or nothing. Hooks belong to deploys and rollbacks, not to restarts. */
function hook(config: StepsConfig, name: HookName): DeclaredStep[] {
  return hookOf(config, name) === undefined ? [] : [hookSteps[name]];
}

/**
 * From the start of the idle colour to the unlock: the same for a deploy, a rollback and a restart
 * (which neither prunes nor runs hooks).
 */
function cutoverSteps(
  config: StepsConfig,
  options: { readonly prune: boolean; readonly hooks: boolean } = { prune: true, hooks: true },
): DeclaredStep[] {
  const bounds = config.drain ? ` (quiet for ${config.drain.sessionIdleSeconds} s, at most ${config.drain.sessionMaxSeconds} s)` : '';
  const watched = config.watch !== undefined && config.watch.seconds > 0 && config.watch.accessLog !== undefined;
  const hooked = (name: HookName) => (options.hooks ? hook(config, name) : []);
  return [
    ...hooked('beforeStart'),
    { id: 'start', title: 'Start the idle colour' },
    { id: 'health', title: 'Health-check it' },
    { id: 'exposure', title: 'Check what it listens on' },
    { id: 'contract', title: 'Compare the MCP contract' },
    ...(config.auth?.apiKeys ? [{ id: 'keys' as const, title: 'Settle the API keys' }] : []),
    { id: 'switch', title: 'Switch nginx' },
    { id: 'verify', title: 'Verify through the public URL' },
    ...(watched ? [{ id: 'watch' as const, title: 'Watch it under real traffic' }] : []),
    { id: 'finalize', title: 'Record it as active' },
    { id: 'sessions', title: `Let the old colour's sessions finish${bounds}` },
    { id: 'drain', title: 'Drain and stop the old colour' },
    ...hooked('afterSwitch'),
    ...(options.prune ? [{ id: 'prune' as const, title: 'Prune old releases' }] : []),
    ...hooked('local.after'),
    { id: 'audit', title: 'Write the audit log and unlock' },
  ];
}

/** A configured build's step, or nothing: it runs before the local checks. */
export function buildSteps(config: Pick<StepsConfig, 'build'>): DeclaredStep[] {
  return config.build === undefined ? [] : [{ id: 'build', title: 'Build' }];
}

export function deploySteps(
  config: StepsConfig,
  options: { readonly validate: boolean; readonly checkout?: boolean },
): readonly DeclaredStep[] {
  return [
    ...hook(config, 'local.before'),
    ...(options.checkout ? [{ id: 'checkout' as const, title: 'Check out the ref' }] : []),
    ...buildSteps(config),
    ...(options.validate ? validateSteps : []),
    { id: 'prepare', title: 'Hash the release files' },
    { id: 'connect', title: 'Connect and take the lock' },
    { id: 'upload', title: 'Upload the release' },
    ...linkSteps(config),
    { id: 'install', title: 'Install dependencies' },
    ...cutoverSteps(config),
  ];
}

export function rollbackSteps(config: StepsConfig, options: { readonly envFrom?: unknown } = {}): readonly DeclaredStep[] {
  return [
    ...hook(config, 'local.before'),
    { id: 'connect', title: 'Connect and take the lock' },
    { id: 'choose', title: 'Choose the release' },
    ...(options.envFrom === undefined ? [] : [{ id: 'env' as const, title: 'Give it an environment' }]),
    ...linkSteps(config),
    ...cutoverSteps(config),
  ];
}

/** The active release again, on the other colour, through the whole cutover. */
export function restartSteps(config: StepsConfig): readonly DeclaredStep[] {
  return [
    { id: 'connect', title: 'Connect and take the lock' },
    ...linkSteps(config),
    { id: 'install', title: 'Check the release venv' },
    ...cutoverSteps(config, { prune: false, hooks: false }),
  ];
}

export const pruneSteps: readonly DeclaredStep[] = [
  { id: 'connect', title: 'Connect and take the lock' },
  { id: 'prune', title: 'Prune old releases' },
  { id: 'audit', title: 'Write the audit log and unlock' },
];
