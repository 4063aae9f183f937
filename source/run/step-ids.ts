/**
 * Every step a run can report, by id. The ids are a public contract: `--json` summaries, the
 * audit log and notifications name steps by them. The order of a deploy or a rollback, and each
 * step's title, are the engine's (engine/declared-steps.ts) and validate's to declare.
 */
export const stepIds = [
  'hooks.local.before',
  'build',
  'validate.files',
  'validate.python',
  'validate.ontologies',
  'validate.env',
  'validate.server',
  'checkout',
  'prepare',
  'connect',
  'preflight',
  'choose',
  'env',
  'upload',
  'link',
  'install',
  'hooks.beforeStart',
  'start',
  'health',
  'exposure',
  'contract',
  'keys',
  'switch',
  'verify',
  'watch',
  'finalize',
  'sessions',
  'drain',
  'hooks.afterSwitch',
  'prune',
  'hooks.local.after',
  'audit',
  'rollback.switch',
  'rollback.stop',
] as const;

export type StepId = (typeof stepIds)[number];

/** A step as a run declares it before it starts: the checklist's pending row. */
export type DeclaredStep = { readonly id: StepId; readonly title: string };

/**
 * The steps that change the host. Each runs only once the session has checked, on the host,
 * that the lock is still this run's (run/step.ts calls the runner's guard at their start): a run
 * whose lock was broken stops before it changes anything else.
 */
export const hostChangingSteps: ReadonlySet<StepId> = new Set<StepId>([
  'env',
  'upload',
  'link',
  'install',
  'hooks.beforeStart',
  'start',
  'keys',
  'switch',
  'finalize',
  'drain',
  'hooks.afterSwitch',
  'prune',
  'rollback.switch',
  'rollback.stop',
]);

/** Steps that undo a failed cutover; they run after the failure, not in the declared order. */
export function isRecoveryStep(step: StepId): boolean {
  return step.startsWith('rollback.');
}
