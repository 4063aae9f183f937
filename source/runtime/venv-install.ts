import { DeployError } from '../errors.js';
import type { HostLayout } from '../host/layout.js';
import { arg, cmd, op, script, type ScriptPart } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';
import type { VenvPlan } from './install-plan.js';

/** Present in a venv or an install folder once it was built completely. */
export const completeMarker = '.mcp-deploy-complete';

/** An install that runs for longer than this is stopped: a hung index or build never holds the lock forever. */
export const installTimeoutMs = 30 * 60_000;

/**
 * Builds the venv for `plan.hash` once; every later release with the same dependencies reuses
 * it. Built in place and marked complete last rather than renamed: a venv records its own path
 * (console scripts' #! lines), so it cannot be moved after it was made. A venv folder without the
 * marker is an interrupted build and is rebuilt. The deploy lock keeps two builds from racing.
 *
 * pip installs into a `python -m venv`; with uv on the host, `uv venv` then `uv pip install`, or
 * `uv sync --frozen` from the release's pyproject.toml and uv.lock (the project itself is not
 * installed: the venv is shared, the project's files run from each release's folder).
 */
export async function ensureVenv(
  transport: Transport,
  layout: HostLayout,
  plan: VenvPlan,
  releaseDir: string,
  log: (line: string) => void,
): Promise<'cached' | 'built'> {
  const venv = layout.venvDir(plan.hash);
  const marker = `${venv}/${completeMarker}`;
  const cached = await transport.run(['test', '-f', marker]);
  if (cached.code === 0) return 'cached';
  const text = script(
    cmd(['rm', '-rf', venv]),
    op('&&'),
    cmd(['mkdir', '-p', layout.venvsDir]),
    op('&&'),
    ...venvBuild(plan, venv, releaseDir),
    op('&& date -u +%Y-%m-%dT%H:%M:%SZ >'),
    arg(marker),
  );
  const result = await transport.stream({ script: text }, { onLine: (line) => log(line), timeoutMs: installTimeoutMs });
  if (result.code !== 0) {
    await transport.run(['rm', '-rf', venv]);
    throw new DeployError('deploy', `Building the venv with ${plan.tool} failed (exit ${result.code}); see the log lines above.`, {
      hint: !plan.needsInstall
        ? `Check that ${plan.python} on the host has the venv module (Debian: apt-get install python3-venv).`
        : plan.tool === 'uv'
          ? 'uv sync --frozen installs exactly uv.lock: run uv lock locally if pyproject.toml changed, and check the host reaches the index.'
          : 'If the host cannot reach a package index, point pip at a wheelhouse with runtime.pip_args (e.g. ["--no-index", "--find-links", "/srv/wheels"]).',
    });
  }
  return 'built';
}

/** uv may not fetch an interpreter of its own: the venv uses runtime.python, as pip's does. */
const uvEnv = ['UV_PYTHON_DOWNLOADS=never'];

function venvBuild(plan: VenvPlan, venv: string, releaseDir: string): ScriptPart[] {
  // Requirements made from pyproject.toml go to pip as arguments: no file to write or clean up.
  const requirements =
    plan.requirements !== null ? ['-r', `${releaseDir}/${plan.requirements}`] : (plan.requirementsText?.trim().split('\n') ?? []);
  if (plan.tool === 'uv') {
    return [
      cmd(['cd', releaseDir]),
      op('&&'),
      cmd([
        'env',
        `UV_PROJECT_ENVIRONMENT=${venv}`,
        ...uvEnv,
        'uv',
        'sync',
        '--frozen',
        '--no-dev',
        '--no-install-project',
        '--python',
        plan.python,
      ]),
    ];
  }
  if (plan.tool === 'uv-pip') {
    return [
      cmd(['env', ...uvEnv, 'uv', 'venv', '--python', plan.python, venv]),
      ...(plan.needsInstall
        ? [op('&&'), cmd(['env', ...uvEnv, 'uv', 'pip', 'install', '--python', `${venv}/bin/python`, ...plan.pipArgs, ...requirements])]
        : []),
    ];
  }
  return [
    cmd([plan.python, '-m', 'venv', ...(plan.needsInstall ? [] : ['--without-pip']), venv]),
    ...(plan.needsInstall
      ? [
          op('&&'),
          cmd([
            `${venv}/bin/python`,
            '-m',
            'pip',
            'install',
            '--disable-pip-version-check',
            '--no-input',
            ...plan.pipArgs,
            ...requirements,
          ]),
        ]
      : []),
  ];
}
