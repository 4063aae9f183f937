import { DeployError } from '../errors.js';
import { command } from '../remote/quote.js';
import { runnerKeyLines, runnerShellPath, type WorkflowInput } from './github-workflow.js';

/**
 * `mcp-deploy ci github --monitor [SCHEDULE]`: a second workflow that runs `mcp-deploy monitor
 * --once` on a schedule. The verdict lives on the host (monitor.json), so a run on any runner
 * alerts only when it changes; the job fails while the target is unhealthy, which GitHub reports
 * as well. It deploys nothing, so it runs outside the deploy environment: that environment's
 * required reviewers would otherwise hold every scheduled run for an approval.
 */

export const monitorWorkflowPath = '.github/workflows/mcp-deploy-monitor.yml';

export const defaultMonitorSchedule = '*/15 * * * *';

/** Five cron fields of digits, `*`, `/`, `,` and `-`: what GitHub's schedule accepts, and nothing a YAML or shell could misread. */
export function checkSchedule(schedule: string): string {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5 || !fields.every((field) => /^[0-9*/,-]+$/.test(field))) {
    throw new DeployError('usage', `--monitor: not a cron schedule: ${JSON.stringify(schedule)}.`, {
      hint: 'Five fields, minute hour day month weekday, such as "*/15 * * * *" (every 15 minutes, UTC).',
    });
  }
  return fields.join(' ');
}

export function renderMonitorWorkflow(input: WorkflowInput, schedule: string): string {
  const cron = checkSchedule(schedule);
  for (const value of [input.configFile, input.identityFile, input.knownHosts]) {
    if (value.includes('${{') || /[\n\r]/.test(value))
      throw new DeployError('usage', `${JSON.stringify(value)} cannot be written into a workflow.`);
  }
  const y = (value: string) => JSON.stringify(value);
  const block = (lines: readonly string[], indent: string) => lines.map((line) => (line === '' ? '' : `${indent}${line}`)).join('\n');
  const monitor = [
    'npx',
    '--no-install',
    'mcp-deploy',
    'monitor',
    '--once',
    '--config',
    input.configFile,
    '--target',
    input.target,
    '--json',
  ];
  const secrets = [...runnerKeyLines(input)];
  const run = [
    'set +e',
    `${command(monitor)} > "$RUNNER_TEMP/mcp-deploy-monitor.json"`,
    'code=$?',
    'set -e',
    '{',
    `  echo "### mcp-deploy monitor: ${input.app} → ${input.target} (exit $code: 0 healthy, 1 failing, 3 unreachable)"`,
    '  echo',
    "  echo '```json'",
    '  cat "$RUNNER_TEMP/mcp-deploy-monitor.json"',
    "  echo '```'",
    '} >> "$GITHUB_STEP_SUMMARY"',
    'exit "$code"',
  ];
  return `# Written by "mcp-deploy ci github --monitor" (mcp-deploy ${input.version}): checks "${input.app}" on the target
# "${input.target}" on a schedule (${cron}, UTC) with "mcp-deploy monitor --once". A notification goes out only
# when the verdict changes (the last one is kept on the host); the job fails while the target is unhealthy.
# Repository secrets it needs: MCP_DEPLOY_SSH_KEY and MCP_DEPLOY_KNOWN_HOSTS (as the deploy workflow).
# It runs the mcp-deploy pinned in package-lock.json (npm ci), never one fetched by name.${
    input.unreachableHost === undefined
      ? ''
      : `\n# WARNING: the target's host ${input.unreachableHost} is a loopback, private or local-network address: a GitHub-hosted
# runner cannot reach it. Use a self-hosted runner on that network (runs-on), or a public address.`
  }
name: mcp-deploy monitor

on:
  schedule:
    - cron: ${y(cron)}
  workflow_dispatch:

permissions:
  contents: read

# One check at a time: a slow one is never overlapped by the next.
concurrency:
  group: ${y(`mcp-deploy-monitor-${input.target}`)}
  cancel-in-progress: false

jobs:
  monitor:
    name: ${y(`Monitor ${input.app} on ${input.target}`)}
    runs-on: ubuntu-latest
    timeout-minutes: 10
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: "24"
          cache: npm
      - name: Install the pinned mcp-deploy
        run: npm ci
      - name: Write the SSH key and the known host
        env:
          MCP_DEPLOY_SSH_KEY: \${{ secrets.MCP_DEPLOY_SSH_KEY }}
          MCP_DEPLOY_KNOWN_HOSTS: \${{ secrets.MCP_DEPLOY_KNOWN_HOSTS }}
        run: |
${block(secrets, '          ')}
      - name: ${y(`mcp-deploy monitor ${input.target}`)}
        env:
          MCP_DEPLOY_OPERATOR: "github-schedule"
        run: |
${block(run, '          ')}
      - name: Remove the SSH key
        if: always()
        run: |
${block([`rm -f ${runnerShellPath(input.identityFile)}`], '          ')}
`;
}
