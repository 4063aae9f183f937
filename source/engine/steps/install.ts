import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../config/load.js';
import { DeployError } from '../../errors.js';
import type { HostLayout } from '../../host/layout.js';
import { arg, cmd, op, script } from '../../remote/quote.js';
import type { Transport } from '../../remote/transport.js';
import { runStep, StepSkipped } from '../../run/step.js';
import type { Session } from '../session.js';

export type InstallPlan =
  | { readonly kind: 'venv'; readonly hash: string; readonly requirements: string; readonly needsPip: boolean }
  | { readonly kind: 'command'; readonly command: string }
  | { readonly kind: 'none'; readonly reason: string };

/**
 * What the install step will do, decided locally. The venv key covers everything that changes
 * what pip would build: the requirements' bytes, the pip arguments and the interpreter.
 */
export async function planInstall(config: Config): Promise<InstallPlan> {
  const { runtime } = config;
  if (runtime.type === 'command') {
    return runtime.install === undefined
      ? { kind: 'none', reason: 'runtime.type is "command" and no runtime.install is set' }
      : { kind: 'command', command: runtime.install };
  }
  if (runtime.requirements === undefined) return { kind: 'none', reason: `no runtime.requirements; the server runs on ${runtime.python}` };
  let bytes: Buffer;
  try {
    bytes = await readFile(join(config.source, runtime.requirements));
  } catch {
    throw new DeployError('config', `runtime.requirements: ${runtime.requirements} was not found in ${config.source}`);
  }
  const hash = createHash('sha256')
    .update(bytes)
    .update('\0')
    .update(JSON.stringify(runtime.pip_args))
    .update('\0')
    .update(runtime.python)
    .digest('hex');
  const needsPip = bytes
    .toString('utf8')
    .split('\n')
    .some((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  return { kind: 'venv', hash, requirements: runtime.requirements, needsPip };
}

/** The interpreter the server runs with once the install step has run. */
export function interpreterFor(config: Config, layout: HostLayout, plan: InstallPlan): string {
  return plan.kind === 'venv' ? `${layout.venvDir(plan.hash)}/bin/python` : config.runtime.python;
}

const completeMarker = '.mcp-deploy-complete';

/**
 * Builds the venv for `plan.hash` once; every later release with the same requirements reuses
 * it. Built in place and marked complete last rather than renamed: a venv records its own path
 * (console scripts' #! lines), so it cannot be moved after pip ran. A venv folder without the
 * marker is an interrupted build and is rebuilt. The deploy lock keeps two builds from racing.
 */
export async function ensureVenv(
  transport: Transport,
  layout: HostLayout,
  config: Config,
  plan: Extract<InstallPlan, { kind: 'venv' }>,
  releaseDir: string,
  log: (line: string) => void,
): Promise<'cached' | 'built'> {
  const venv = layout.venvDir(plan.hash);
  const marker = `${venv}/${completeMarker}`;
  const cached = await transport.run(['test', '-f', marker]);
  if (cached.code === 0) return 'cached';
  const pip = plan.needsPip
    ? script(
        op('&&'),
        cmd([
          `${venv}/bin/python`,
          '-m',
          'pip',
          'install',
          '--disable-pip-version-check',
          '--no-input',
          ...config.runtime.pip_args,
          '-r',
          `${releaseDir}/${plan.requirements}`,
        ]),
      )
    : '';
  const text = script(
    cmd(['rm', '-rf', venv]),
    op('&&'),
    cmd(['mkdir', '-p', layout.venvsDir]),
    op('&&'),
    cmd([config.runtime.python, '-m', 'venv', ...(plan.needsPip ? [] : ['--without-pip']), venv]),
    op(pip),
    op('&& date -u +%Y-%m-%dT%H:%M:%SZ >'),
    arg(marker),
  );
  const result = await transport.stream({ script: text }, { onLine: (line) => log(line), timeoutMs: 30 * 60_000 });
  if (result.code !== 0) {
    await transport.run(['rm', '-rf', venv]);
    throw new DeployError('deploy', `Building the venv failed (exit ${result.code}); see the log lines above.`, {
      hint: plan.needsPip
        ? 'If the host cannot reach a package index, point pip at a wheelhouse with runtime.pip_args (e.g. ["--no-index", "--find-links", "/srv/wheels"]).'
        : `Check that ${config.runtime.python} on the host has the venv module (Debian: apt-get install python3-venv).`,
    });
  }
  return 'built';
}

export async function runInstallCommand(
  transport: Transport,
  command: string,
  releaseDir: string,
  log: (line: string) => void,
): Promise<void> {
  const result = await transport.stream({ script: command }, { cwd: releaseDir, onLine: (line) => log(line), timeoutMs: 30 * 60_000 });
  if (result.code !== 0) throw new DeployError('deploy', `runtime.install exited ${result.code}; see the log lines above.`);
}

/** Step 4: the release's dependencies, from the venv cache when its hash is already built. */
export async function installStep(session: Session, install: InstallPlan, release: string): Promise<void> {
  const { context, transport, layout } = session;
  await runStep(context, 'install', 'Install dependencies', async (step) => {
    if (install.kind === 'none') throw new StepSkipped(install.reason);
    if (install.kind === 'command') {
      await runInstallCommand(transport, install.command, layout.releaseDir(release), step.log);
      step.detail('runtime.install ran');
    } else {
      const outcome = await ensureVenv(transport, layout, context.config, install, layout.releaseDir(release), step.log);
      step.detail(outcome === 'cached' ? `venv ${install.hash.slice(0, 12)} reused` : `venv ${install.hash.slice(0, 12)} built`);
    }
  });
}
