import { dirname, posix } from 'node:path';
import type { HookConfig } from '../../config/schema.js';
import { DeployError, isDeployError } from '../../errors.js';
import { composeCommand } from '../../remote/compose.js';
import { LocalTransport } from '../../remote/local-transport.js';
import { op, quote, script } from '../../remote/quote.js';
import type { Transport } from '../../remote/transport.js';
import { runStep, StepFailure } from '../../run/step.js';
import type { StepId } from '../../run/step-ids.js';
import type { EngineContext } from '../context.js';
import { loadEnvScript } from '../env-file.js';
import type { Session } from '../session.js';

/**
 * The commands a config hangs around a deploy or a rollback (the same set for both). Each one is
 * a declared step of its own: its output streams into the log as it comes, it has a time limit,
 * and a failure names the hook with its last lines. On the host, hooks run in the release's
 * folder with the release's environment; on this machine, in the config file's folder.
 */

export type HookName = 'local.before' | 'beforeStart' | 'afterSwitch' | 'local.after';

export const hookSteps = {
  'local.before': { id: 'hooks.local.before', title: 'Run hooks.local.before' },
  beforeStart: { id: 'hooks.beforeStart', title: 'Run hooks.beforeStart on the host' },
  afterSwitch: { id: 'hooks.afterSwitch', title: 'Run hooks.afterSwitch on the host' },
  'local.after': { id: 'hooks.local.after', title: 'Run hooks.local.after' },
} as const satisfies Record<HookName, { id: StepId; title: string }>;

const defaultTimeoutSeconds = 300;
const tailLines = 20;

export function hookOf(config: Pick<EngineContext['config'], 'hooks'>, name: HookName): HookConfig | undefined {
  const { hooks } = config;
  if (name === 'local.before') return hooks?.local?.before;
  if (name === 'local.after') return hooks?.local?.after;
  return hooks?.[name];
}

/** A hook on this machine, with `MCP_DEPLOY_*` variables saying what is happening (or what happened). */
export async function localHookStep(
  context: EngineContext,
  name: 'local.before' | 'local.after',
  env: Readonly<Record<string, string>>,
): Promise<void> {
  const hook = hookOf(context.config, name);
  if (hook === undefined) return;
  await runHook(
    context,
    name,
    hook,
    new LocalTransport(),
    { cwd: dirname(context.config.file), env },
    { uninterruptible: name === 'local.after' },
  );
}

/** What `hooks.local.before` and `hooks.local.after` are told, as `MCP_DEPLOY_*` variables. */
export function localHookEnv(
  context: EngineContext,
  operation: 'deploy' | 'rollback',
  outcome?: {
    readonly result: 'ok' | 'failed' | 'rolled-back' | 'interrupted';
    readonly release: string | null;
    readonly previous: string | null;
    readonly serving: string | null;
    readonly error?: { readonly step: string; readonly message: string };
  },
): Record<string, string> {
  const { config, target } = context;
  return {
    MCP_DEPLOY_OPERATION: operation,
    MCP_DEPLOY_APP: config.app,
    MCP_DEPLOY_TARGET: target.name,
    MCP_DEPLOY_HOST: target.transport === 'local' ? 'local' : (target.host ?? ''),
    MCP_DEPLOY_PUBLIC_URL: target.publicUrl,
    ...(outcome === undefined
      ? {}
      : {
          MCP_DEPLOY_RESULT: outcome.result,
          MCP_DEPLOY_RELEASE: outcome.release ?? '',
          MCP_DEPLOY_PREVIOUS: outcome.previous ?? '',
          MCP_DEPLOY_SERVING: outcome.serving ?? '',
          MCP_DEPLOY_ERROR_STEP: outcome.error?.step ?? '',
          MCP_DEPLOY_ERROR: outcome.error?.message ?? '',
        }),
  };
}

export type HostHookRun = {
  readonly transport: Transport;
  readonly releaseDir: string;
  /** The release's environment files (env-file.ts envFilesFor): loaded first, as for the server. */
  readonly envFiles: readonly string[];
  /** The server's own environment (PORT, HOST, RELEASE_ID, runtime.env) and the MCP_DEPLOY_* variables. */
  readonly env: Readonly<Record<string, string>>;
  /** Folders put first on PATH: the release's venv bin, node_modules/.bin. */
  readonly path: readonly string[];
};

/** What a host hook gets for the release about to start (or now serving) on `colour`. */
export function releaseHookRun(
  session: Session,
  next: { readonly release: string; readonly operation: 'deploy' | 'rollback' | 'restart'; readonly interpreter: string },
  where: {
    readonly colour: string;
    readonly port: number;
    readonly envFiles: readonly string[];
    readonly serverEnv: Readonly<Record<string, string>>;
  },
): HostHookRun {
  const { context, transport, layout, active } = session;
  const releaseDir = layout.releaseDir(next.release);
  const { interpreter } = next;
  const venv = interpreter.startsWith(`${layout.venvsDir}/`) ? posix.dirname(posix.dirname(interpreter)) : null;
  const path = [
    ...(context.config.runtime.type === 'node' ? [`${releaseDir}/node_modules/.bin`] : []),
    ...(interpreter.includes('/') ? [posix.dirname(interpreter)] : []),
  ];
  return {
    transport,
    releaseDir,
    envFiles: where.envFiles,
    path,
    env: {
      ...where.serverEnv,
      ...(venv === null ? {} : { VIRTUAL_ENV: venv }),
      MCP_DEPLOY_OPERATION: next.operation,
      MCP_DEPLOY_APP: context.config.app,
      MCP_DEPLOY_TARGET: context.target.name,
      MCP_DEPLOY_RELEASE: next.release,
      MCP_DEPLOY_PREVIOUS: active?.release ?? '',
      MCP_DEPLOY_COLOUR: where.colour,
      MCP_DEPLOY_PORT: String(where.port),
      MCP_DEPLOY_RELEASE_DIR: releaseDir,
      MCP_DEPLOY_ROOT: layout.root,
      MCP_DEPLOY_PUBLIC_URL: context.target.publicUrl,
    },
  };
}

/** A hook on the host, in the release's folder, with the release's environment. */
export async function hostHookStep(context: EngineContext, name: 'beforeStart' | 'afterSwitch', run: HostHookRun): Promise<void> {
  const hook = hookOf(context.config, name);
  if (hook === undefined) return;
  // The env file (secrets) is sourced by the shell on the host, never put on a command line.
  const prelude = script(
    op(`${loadEnvScript(run.envFiles)};`),
    ...(run.path.length > 0 ? [op(`PATH=${run.path.map(quote).join(':')}:"$PATH"; export PATH;`)] : []),
  );
  await runHook(
    context,
    name,
    hook,
    run.transport,
    { cwd: run.releaseDir, env: run.env, prelude },
    { uninterruptible: name === 'afterSwitch' },
  );
}

async function runHook(
  context: EngineContext,
  name: HookName,
  hook: HookConfig,
  transport: Transport,
  where: { readonly cwd: string; readonly env: Readonly<Record<string, string>>; readonly prelude?: string },
  options: { readonly uninterruptible: boolean },
): Promise<void> {
  const { command, timeoutSeconds } = typeof hook === 'string' ? { command: hook, timeoutSeconds: defaultTimeoutSeconds } : hook;
  const { id, title } = hookSteps[name];
  await runStep(
    context,
    id,
    title,
    async (step) => {
      const tail: string[] = [];
      const onLine = (line: string) => {
        tail.push(line);
        if (tail.length > tailLines) tail.shift();
        step.log(`${name}: ${line}`);
      };
      const text = `${where.prelude ?? ''}\n${composeCommand({ script: command }, { cwd: where.cwd, env: { ...where.env, MCP_DEPLOY_HOOK: name } })}`;
      const details = () =>
        tail.length > 0 ? [`last lines of hooks.${name}:`, ...tail.map((line) => `  ${line}`)] : ['(it printed nothing)'];
      let code: number | null;
      try {
        ({ code } = await transport.stream(
          { script: text },
          { onLine, longRunning: true, timeoutMs: timeoutSeconds * 1000, ...(options.uninterruptible ? {} : { signal: context.signal }) },
        ));
      } catch (error) {
        if (isDeployError(error) && error.kind === 'timeout') {
          throw new StepFailure(`hooks.${name} did not finish within ${timeoutSeconds} s and was stopped.`, details(), {
            hint: `Give it longer with hooks.${name}: { "command": …, "timeoutSeconds": … }, or make it faster.`,
          });
        }
        throw error;
      }
      if (code === null)
        throw context.signal.reason instanceof Error ? context.signal.reason : new DeployError('deploy', `hooks.${name} was stopped.`);
      if (code !== 0) throw new StepFailure(`hooks.${name} exited ${code}.`, details(), { hint: hintFor(name) });
      step.detail(describeRun(command, tail));
    },
    { uninterruptible: options.uninterruptible },
  );
}

function hintFor(name: HookName): string {
  switch (name) {
    case 'local.before':
      return 'Nothing was changed on the host. Fix the hook (or its cause) and deploy again.';
    case 'beforeStart':
      return 'The new release did not start; the old release keeps serving. Its last lines are above.';
    case 'afterSwitch':
      return 'The new release serves (it passed every check); nothing was undone. Run the hook by hand if it matters.';
    case 'local.after':
      return 'The run itself is done; only the hook failed.';
  }
}

function describeRun(command: string, tail: readonly string[]): string {
  const shown = command.length > 48 ? `${command.slice(0, 47)}…` : command;
  return tail.length === 0 ? shown : `${shown} (${tail.length === tailLines ? `${tailLines}+` : tail.length} line(s) of output)`;
}
