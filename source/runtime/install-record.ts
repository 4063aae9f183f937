import { z } from 'zod';
import type { DepsPlan, InstallPlan, VenvPlan } from './install-plan.js';

/**
 * The install a release used, as its release.json records it (`install`), so that a rollback
 * checks, and if need be rebuilds, exactly that, whatever the local config says by then.
 */

const hash = z.string().regex(/^[0-9a-f]{16,128}$/);
const relative = z.string().refine((path) => path !== '' && !path.startsWith('/') && !path.split('/').includes('..'));

const venvRecord = z.object({
  kind: z.literal('venv'),
  hash,
  tool: z.enum(['pip', 'uv', 'uv-pip']),
  python: z.string().min(1),
  pipArgs: z.array(z.string()),
  requirements: relative.nullable(),
  requirementsText: z.string().nullable(),
  needsInstall: z.boolean(),
});

const depsRecord = z.object({
  kind: z.literal('deps'),
  hash,
  tool: z.enum(['npm', 'pnpm', 'yarn', 'command']),
  command: z.string().min(1),
  copy: z.array(relative),
  packageJson: z.string().nullable(),
  paths: z.array(relative).min(1),
  pathPrefix: z.string().nullable(),
});

const installRecord = z.discriminatedUnion('kind', [venvRecord, depsRecord]);

/** What release.json records: the venv or deps plan; nothing for the other kinds (they left nothing shared). */
export function recordOf(plan: InstallPlan): VenvPlan | DepsPlan | null {
  return plan.kind === 'venv' || plan.kind === 'deps' ? plan : null;
}

/**
 * The install of a release on the host: its recorded plan, or, for a release made before installs
 * were recorded, a venv by its requirementsHash (rebuilt, if it must be, from the configured
 * requirements file). Null when it uses nothing shared.
 */
export function recordedInstall(
  release: { readonly install?: unknown; readonly requirementsHash: string | null },
  fallback: { readonly python: string; readonly pipArgs: readonly string[]; readonly requirements: string | undefined },
): VenvPlan | DepsPlan | null {
  const parsed = installRecord.safeParse(release.install);
  if (parsed.success) return parsed.data;
  if (release.requirementsHash === null || !hash.safeParse(release.requirementsHash).success) return null;
  return {
    kind: 'venv',
    hash: release.requirementsHash,
    tool: 'pip',
    python: fallback.python,
    pipArgs: fallback.pipArgs,
    requirements: fallback.requirements ?? 'requirements.txt',
    requirementsText: null,
    needsInstall: true,
  };
}
