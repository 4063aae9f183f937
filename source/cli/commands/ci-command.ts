import { dirname } from 'node:path';
import { loadConfig, selectTarget } from '../../config/load.js';
import { DeployError } from '../../errors.js';
import { checkSchedule, defaultMonitorSchedule, monitorWorkflowPath, renderMonitorWorkflow } from '../../ops/github-monitor-workflow.js';
import { renderWorkflow, workflowPath, writeWorkflow } from '../../ops/github-workflow.js';
import { findRepoRoot, workflowInputFor } from '../../ops/github-workflow-input.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { packageVersion } from '../version.js';

export type CiOptions = GlobalOptions & {
  readonly print?: boolean;
  readonly branch?: string;
  readonly contractCheck?: string;
  /** `--monitor [SCHEDULE]`: the scheduled monitor workflow instead (true without a schedule). */
  readonly monitor?: string | boolean;
};

/** `mcp-deploy ci github [--force] [--print] [--branch NAME]`: writes .github/workflows/mcp-deploy.yml. */
export async function ciCommand(provider: string, options: CiOptions, output: Output): Promise<number> {
  if (provider !== 'github') {
    throw new DeployError('usage', `Unknown CI provider "${provider}".`, {
      hint: 'Only GitHub Actions is supported: mcp-deploy ci github',
    });
  }
  const config = loadConfig(options.config ? { file: options.config } : {});
  const target = selectTarget(config, options.target);
  const repoRoot = findRepoRoot(dirname(config.file));
  if (repoRoot === null) {
    throw new DeployError('usage', `${config.file} is not inside a git repository.`, {
      hint: 'Run mcp-deploy ci github in the repository GitHub builds.',
    });
  }
  const input = workflowInputFor(config, target, repoRoot, {
    version: packageVersion(),
    ...(options.branch ? { branch: options.branch } : {}),
    ...(options.contractCheck ? { contractFile: options.contractCheck } : {}),
  });
  if (options.monitor !== undefined && options.monitor !== false) {
    const schedule = options.monitor === true ? defaultMonitorSchedule : options.monitor;
    const monitorText = renderMonitorWorkflow(input, schedule);
    if (options.print) {
      output.write(monitorText);
      return 0;
    }
    const { replaced } = await writeWorkflow(repoRoot, monitorText, { force: options.force ?? false, path: monitorWorkflowPath });
    output.write(
      `${replaced ? 'Replaced' : 'Wrote'} ${monitorWorkflowPath} in ${repoRoot}: runs mcp-deploy monitor --once on ${target.name} on the schedule ${checkSchedule(schedule)} (UTC).\n`,
    );
    output.write('It uses the same repository secrets as the deploy workflow: MCP_DEPLOY_SSH_KEY and MCP_DEPLOY_KNOWN_HOSTS.\n');
    output.write('Notifications go to the channels in notify (docs/notifications.md), only when the verdict changes.\n');
    return 0;
  }
  const text = renderWorkflow(input);
  if (options.print) {
    output.write(text);
    return 0;
  }
  const { replaced } = await writeWorkflow(repoRoot, text, { force: options.force ?? false });
  const out = output;
  out.write(
    `${replaced ? 'Replaced' : 'Wrote'} ${workflowPath} in ${repoRoot}: deploys ${config.app} to ${target.name} on pushes to ${input.branch} and v* tags.\n`,
  );
  out.write('Add these repository secrets (Settings → Secrets and variables → Actions):\n');
  out.write(`  MCP_DEPLOY_SSH_KEY       the deploy user's private key (the job writes it to ${input.identityFile})\n`);
  out.write(
    `  MCP_DEPLOY_KNOWN_HOSTS   the host's key line; get it with ssh-keyscan -p ${target.port} ${target.host ?? '<host>'} and check its fingerprint\n`,
  );
  if (input.envFile !== undefined) out.write(`  MCP_DEPLOY_ENV_FILE      the contents of ${input.envFile}\n`);
  out.write(`  and an environment named ${target.name} (Settings → Environments): add required reviewers there to approve each run.\n`);
  if (input.unreachableHost !== undefined) {
    out.write(
      `! Warning: ${input.unreachableHost} is a loopback, private or local-network address that a GitHub-hosted runner cannot reach; use a self-hosted runner on that network, or a public address.\n`,
    );
  }
  if (!input.identityFile.startsWith('~/')) {
    out.write(`Note: identityFile ${input.identityFile} is outside your home folder; the runner must be able to create it there too.\n`);
  }
  return 0;
}
