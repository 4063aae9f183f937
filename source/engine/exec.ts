import type { Config } from '../config/load.js';
import { DeployError, describeError } from '../errors.js';
import { appendAudit } from '../host/audit.js';
import { type HostLayout, hostLayout } from '../host/layout.js';
import { readReleaseMeta } from '../host/releases.js';
import { readState } from '../host/state.js';
import { cmd, command, op, quote, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import { serverCommand } from '../runtime/server-command.js';
import { createScrubber } from '../run/scrub.js';
import type { EngineContext } from './context.js';
import { envFilesFor, loadEnvScript, serverSecretValues } from './env-file.js';
import { hostIso } from './session.js';

export type ExecRequest = {
  /** One word: a shell command line, run by `sh -c`. Several: a program and its arguments, run as they are. */
  readonly argv: readonly string[];
  readonly onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  readonly signal: AbortSignal;
};

export type ExecResult = {
  readonly release: string;
  /** The command's exit code; null when it was stopped (Ctrl-C). */
  readonly code: number | null;
  /** The command as the audit log records it. */
  readonly command: string;
};

/** Long commands are cut in the audit log; the record stays one atomic append. */
const maxAuditedCommand = 500;

/**
 * `mcp-deploy exec -- CMD`: runs a command on the host in the active release's folder with the
 * environment its server runs with — the env file, PORT/HOST/RELEASE_ID and runtime.env, and the
 * release's venv first on PATH — streaming its output. It takes no lock (a console session must
 * not hold deploys up) and is recorded in the audit log with its exit code.
 */
export async function execInActiveRelease(context: EngineContext, transport: Transport, request: ExecRequest): Promise<ExecResult> {
  const { config, target } = context;
  if (request.argv.length === 0 || request.argv[0] === '') {
    throw new DeployError('usage', 'exec needs a command: mcp-deploy exec -- CMD [ARGS...]', {
      hint: 'One argument is a shell command line (mcp-deploy exec -- "env | sort"); several are a program and its arguments.',
    });
  }
  const layout = hostLayout(target.path);
  const state = await readState(transport, layout);
  const active = state?.active ?? null;
  if (active === null) {
    throw new DeployError('usage', `Nothing is deployed on ${target.name} yet, so there is no release to run a command in.`, {
      hint: 'Deploy first: mcp-deploy',
    });
  }
  const venv = await releaseVenv(transport, layout, active.release);
  const text = script(...releaseEnvironment(config, layout, { ...active, venv }), op('exec'), ...userCommand(request.argv));
  const result = await transport.stream({ script: text }, { signal: request.signal, onLine: request.onLine, longRunning: true });
  const shown = createScrubber({ urls: [], values: serverSecretValues(config) })(
    request.argv.length === 1 ? (request.argv[0] ?? '') : command(request.argv),
  );
  const audited = shown.length > maxAuditedCommand ? `${shown.slice(0, maxAuditedCommand)}…` : shown;
  await appendAudit(transport, layout, {
    at: await hostIso(transport),
    operator: context.operator,
    localHost: context.localHost,
    target: target.name,
    operation: 'exec',
    from: active.release,
    to: null,
    result: result.code === 0 ? 'ok' : result.code === null ? 'interrupted' : 'failed',
    steps: [],
    ...(result.code === 0 || result.code === null ? {} : { error: { step: 'exec', message: `exited ${result.code}` } }),
    command: audited,
  }).catch((error: unknown) =>
    context.bus.emit({ kind: 'notice', level: 'warn', message: `The audit log could not be written: ${describeError(error)}` }),
  );
  return { release: active.release, code: result.code, command: audited };
}

/**
 * The same surroundings the supervisors give the server (cd into the release, source the env
 * file, then the non-secret environment over it), plus the venv first on PATH, so `python` and
 * console scripts are the release's own.
 */
function releaseEnvironment(
  config: Config,
  layout: HostLayout,
  active: { readonly release: string; readonly port: number; readonly venv: string | null },
): ScriptPart[] {
  const interpreter =
    config.runtime.type === 'node' ? config.runtime.node : active.venv === null ? config.runtime.python : `${active.venv}/bin/python`;
  const { env } = serverCommand(config.runtime, { port: active.port, release: active.release, host: '127.0.0.1', interpreter });
  return [
    cmd(['cd', layout.releaseDir(active.release)]),
    op('|| exit 126;'),
    // The environment the release runs with, chosen as the supervisors choose it.
    op(`${loadEnvScript(envFilesFor(layout, active.release))};`),
    ...Object.entries(env).map(([name, value]) => op(`export ${name}=${quote(value)};`)),
    ...(active.venv === null
      ? []
      : [op(`VIRTUAL_ENV=${quote(active.venv)}; PATH=${quote(`${active.venv}/bin`)}:"$PATH"; export VIRTUAL_ENV PATH;`)]),
  ];
}

function userCommand(argv: readonly string[]): ScriptPart[] {
  return argv.length === 1 ? [cmd(['sh', '-c', argv[0] ?? ''])] : [cmd(argv)];
}

/** The release's venv folder, from its release.json; null when it runs on the configured python. */
async function releaseVenv(transport: Transport, layout: HostLayout, release: string): Promise<string | null> {
  const hash = (await readReleaseMeta(transport, layout, release))?.requirementsHash ?? null;
  return hash === null ? null : layout.venvDir(hash);
}
