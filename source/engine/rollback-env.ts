import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { envFilesFor, renderServerEnv, writeReleaseEnv } from './env-file.js';
import type { Session } from './session.js';

/**
 * A rollback starts a release with the environment it ran with, its own `shared/env/<id>.env`,
 * so it needs no secrets in the operator's shell. `rollback --env-from` says otherwise.
 */

export const envSources = ['active', 'local'] as const;
export type EnvSource = (typeof envSources)[number];

export async function hasOwnEnv(transport: Transport, layout: HostLayout, release: string): Promise<boolean> {
  return (await transport.run(['test', '-f', layout.releaseEnvFile(release)])).code === 0;
}

/** Makes `source`'s environment the release's own; says what it did, without a value. */
export async function giveEnvironment(session: Session, release: string, source: EnvSource): Promise<string> {
  const { transport, layout, active, context } = session;
  if (source === 'local') {
    const env = await renderServerEnv(context.config);
    await writeReleaseEnv(transport, layout, release, env?.text ?? null);
    return env === null ? 'no environment configured: it starts with none' : `${env.names.length} variable(s) from env.file and this shell`;
  }
  if (active === null) throw new DeployError('usage', 'Nothing is active, so there is no active environment to take.');
  const target = layout.releaseEnvFile(release);
  const temporary = `${target}.tmp`;
  // The active release's own file, or shared/.env for one deployed before each had its own;
  // copied on the host (the values never travel), mode 600 before it has a name.
  const text = script(
    op('src=; for f in'),
    ...envFilesFor(layout, active.release).map(arg),
    op('; do if [ -f "$f" ]; then src=$f; break; fi; done; [ -n "$src" ] || exit 3; mkdir -p'),
    arg(layout.envDir),
    op('&& chmod 700'),
    arg(layout.envDir),
    op('&& rm -f --'),
    arg(temporary),
    op('&& (umask 077; cp -- "$src"'),
    arg(temporary),
    op(') && mv -f --'),
    arg(temporary),
    arg(target),
    op('&& printf \'%s\\n\' "$src"'),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 30_000 });
  if (result.code === 3) {
    throw new DeployError('host-state', `The active release ${active.release} has no environment file on ${transport.label}.`, {
      hint: 'Use --env-from local to make one from env.file and this shell, or roll back without --env-from.',
    });
  }
  if (result.code !== 0) {
    throw new DeployError(
      'host-state',
      `Could not copy the environment of ${active.release}: ${result.stderr.trim() || `exit ${result.code}`}.`,
    );
  }
  return `the environment ${active.release} runs with (${result.stdout.trim().split('/').slice(-2).join('/')})`;
}
