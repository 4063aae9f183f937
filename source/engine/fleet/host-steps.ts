import type { DeclaredStep, StepId } from '../../run/step-ids.js';

/** Steps the fleet runs once on this machine, not on each host. */
const localSteps: ReadonlySet<StepId> = new Set<StepId>([
  'hooks.local.before',
  'checkout',
  'build',
  'validate.files',
  'validate.python',
  'validate.ontologies',
  'validate.env',
  'validate.server',
  'prepare',
  'hooks.local.after',
]);

/** A host's steps in a fleet run: the one-host run's, without the local ones, with the pre-flight after the lock. */
export function hostSteps(steps: readonly DeclaredStep[], options: { readonly preflight: boolean }): DeclaredStep[] {
  return steps
    .filter((step) => !localSteps.has(step.id))
    .flatMap((step) =>
      step.id === 'connect' && options.preflight ? [step, { id: 'preflight' as const, title: 'Check disk and ports' }] : [step],
    );
}

/** The fleet's own local steps, in the one-host run's order. */
export function localStepsOf(steps: readonly DeclaredStep[]): DeclaredStep[] {
  return steps.filter((step) => localSteps.has(step.id));
}
