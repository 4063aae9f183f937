import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DeployError } from '../errors.js';
import { command, quote } from '../remote/quote.js';
import type { WorkflowInput } from './github-workflow-input.js';

export type { WorkflowInput } from './github-workflow-input.js';

/**
 * `mcp-deploy ci github`: a GitHub Actions workflow that deploys on pushes to main touching the
 * server's folder, on `v*` tags, and by hand (with a rollback switch). Secrets reach the job only
 * through `env:` and are written to files with umask 077; no step prints them, and no `${{ }}`
 * expression is pasted into a script (GitHub would paste it before the shell parses: injection).
 */

export const workflowPath = '.github/workflows/mcp-deploy.yml';

export function renderWorkflow(input: WorkflowInput): string {
  for (const value of [
    input.configFile,
    input.source,
    input.envFile ?? '',
    input.requirements ?? '',
    input.identityFile,
    input.knownHosts,
    input.contractFile ?? '',
  ]) {
    // GitHub evaluates ${{ }} anywhere in a workflow, and a newline would end a YAML scalar or a shell word.
    if (value.includes('${{') || /[\n\r]/.test(value))
      throw new DeployError('usage', `${JSON.stringify(value)} cannot be written into a workflow.`);
  }
  const y = (value: string) => JSON.stringify(value); // a JSON string is a valid YAML double-quoted scalar
  // --no-install: only the mcp-deploy that npm ci put in node_modules, never one fetched by name.
  const tool = ['npx', '--no-install', 'mcp-deploy'];
  const options = ['--config', input.configFile, '--target', input.target, '--yes', '--json'];
  const paths = input.source === '' || input.source === '.' ? [] : [`${escapeGlob(input.source)}/**`, escapeGlob(input.configFile)];
  const block = (lines: readonly string[], indent: string) => lines.map((line) => (line === '' ? '' : `${indent}${line}`)).join('\n');

  // Checkout, Node, Python and the server's requirements, the pinned mcp-deploy: what both jobs start with.
  const setup = `      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: "24"
          cache: npm
${
  input.python
    ? `      - uses: actions/setup-python@v5
        with:
          python-version: "3.x"
${input.requirements === undefined ? '' : `          cache: pip\n          cache-dependency-path: ${y(input.requirements)}\n`}`
    : ''
}${
  input.requirements === undefined
    ? ''
    : `      - name: Install the server's requirements (the local checks start the server)
        run: ${y(
          input.requirements.endsWith('pyproject.toml')
            ? command(['python', '-m', 'pip', 'install', dirOf(input.requirements)])
            : command(['python', '-m', 'pip', 'install', '-r', input.requirements]),
        )}
`
}${
  input.nodeInstall === undefined
    ? ''
    : `      - name: Install the server's dependencies (its build and the local checks need them)
        working-directory: ${y(input.nodeInstall.folder)}
        run: ${y(input.nodeInstall.command)}
`
}      - name: Install the pinned mcp-deploy
        run: npm ci
`;

  const secrets = [
    ...runnerKeyLines(input),
    ...(input.envFile === undefined
      ? []
      : [
          `if [ -n "$MCP_DEPLOY_ENV_FILE" ]; then mkdir -p ${quote(dirOf(input.envFile))} && printf '%s\\n' "$MCP_DEPLOY_ENV_FILE" > ${quote(input.envFile)}; fi`,
        ]),
  ];
  const deploy = [
    // Inputs arrive as variables, never pasted into the script; the release id is also checked by mcp-deploy.
    'if [ "$ROLLBACK" = true ]; then',
    '  what=rollback',
    '  set -- rollback',
    '  if [ -n "$RELEASE" ]; then set -- rollback "$RELEASE"; fi',
    'else',
    '  what=deploy',
    '  set -- deploy',
    'fi',
    'set +e',
    // Exit 4 is "the host is locked": another deploy or rollback is running. Wait for it (bounded)
    // rather than fail, so a rollback started by hand during a deploy is not lost.
    'for attempt in $(seq 1 20); do',
    `  ${command(tool)} "$@" ${command(options)} > "$RUNNER_TEMP/mcp-deploy.json"`,
    '  code=$?',
    '  [ "$code" -eq 4 ] || break',
    '  echo "The host is locked by another run; waiting 30 s (attempt $attempt of 20)."',
    '  sleep 30',
    'done',
    'set -e',
    '{',
    `  echo "### mcp-deploy $what: ${input.app} → ${input.target} (exit $code)"`,
    '  echo',
    "  echo '```json'",
    '  cat "$RUNNER_TEMP/mcp-deploy.json"',
    "  echo '```'",
    '} >> "$GITHUB_STEP_SUMMARY"',
    'exit "$code"',
  ];

  return `# Written by \`mcp-deploy ci github\` (mcp-deploy ${input.version}): deploys "${input.app}" to the target "${input.target}"
# - on pushes to ${input.branch} that change ${paths.length > 0 ? `${input.source}/ or ${input.configFile}` : 'anything'},
# - on tags v*,
# - by hand (Actions → mcp-deploy → Run workflow), where "rollback" moves back instead: to
#   "release", or to the newest good release before the active one.
# Repository secrets it needs (Settings → Secrets and variables → Actions):
#   MCP_DEPLOY_SSH_KEY       the deploy user's private key (written to ${input.identityFile})
#   MCP_DEPLOY_KNOWN_HOSTS   the host's key line: ssh-keyscan -p <port> <host>, checked by you
#   MCP_DEPLOY_ENV_FILE      ${input.envFile === undefined ? '(unused: the config has no env.file)' : `the contents of ${input.envFile}`}
# It runs the mcp-deploy pinned in package-lock.json (npm ci), never one fetched by name.${
    input.unreachableHost === undefined
      ? ''
      : `\n# WARNING: the target's host ${input.unreachableHost} is a loopback, private or local-network address: a GitHub-hosted
# runner cannot reach it. Use a self-hosted runner on that network (runs-on), or a public address.`
  }
name: mcp-deploy

on:
  push:
    branches:
      - ${y(input.branch)}
    tags:
      - "v*"
${
  paths.length > 0
    ? `    # Tags ignore path filters: a v* tag always deploys.\n    paths:\n${block(
        paths.map((path) => `- ${y(path)}`),
        '      ',
      )}\n`
    : ''
}${
  input.contractFile === undefined
    ? ''
    : `  # Pull requests only check that the committed MCP contract (${input.contractFile}) is current.
  pull_request:
${
  paths.length > 0
    ? `    paths:
${block(
  [...paths, escapeGlob(input.contractFile)].map((path) => `- ${y(path)}`),
  '      ',
)}
`
    : ''
}`
}  workflow_dispatch:
    inputs:
      rollback:
        description: "Roll back instead of deploying"
        type: boolean
        default: false
      release:
        description: "Release id to roll back to (empty: the newest good one before the active)"
        type: string
        required: false
        default: ""

permissions:
  contents: read

# One run at a time per target and trigger; a running deploy is never cancelled halfway. Runs by
# hand (a rollback), pushes and pull requests have groups of their own: GitHub keeps only the newest
# pending run of a group, so a push must not replace a queued rollback. If they meet, the host lock orders them (the script
# waits while the host is locked).
concurrency:
  group: ${y(`mcp-deploy-${input.target}-\${{ github.event_name == 'workflow_dispatch' && 'by-hand' || github.event_name }}`)}
  cancel-in-progress: false

jobs:
${input.contractFile === undefined ? '' : contractJob(input, setup, tool)}  deploy:
    name: ${y(`Deploy ${input.app} to ${input.target}`)}
${input.contractFile === undefined ? '' : "    if: github.event_name != 'pull_request'\n"}    runs-on: ubuntu-latest
    timeout-minutes: 40
    # Protection rules on this environment (Settings → Environments: required reviewers, branches)
    # make every deploy and rollback wait for an approval; its secrets can replace the repository's.
    environment: ${y(input.target)}
    steps:
${setup}      - name: Write the SSH key, the known host and the env file
        env:
          MCP_DEPLOY_SSH_KEY: \${{ secrets.MCP_DEPLOY_SSH_KEY }}
          MCP_DEPLOY_KNOWN_HOSTS: \${{ secrets.MCP_DEPLOY_KNOWN_HOSTS }}
${input.envFile === undefined ? '' : '          MCP_DEPLOY_ENV_FILE: ${{ secrets.MCP_DEPLOY_ENV_FILE }}\n'}        run: |
${block(secrets, '          ')}
      - name: ${y(`mcp-deploy to ${input.target}`)}
        env:
          ROLLBACK: \${{ inputs.rollback }}
          RELEASE: \${{ inputs.release }}
          # The audit log and notifications name who started it.
          MCP_DEPLOY_OPERATOR: \${{ github.actor }}
        run: |
${block(deploy, '          ')}
      - name: Remove the SSH key
        if: always()
        run: |
${block([`rm -f ${runnerShellPath(input.identityFile)}`], '          ')}
`;
}

/** The pull-request job: starts the server locally and fails when the committed contract is not what it serves. */
function contractJob(input: WorkflowInput, setup: string, tool: readonly string[]): string {
  const check = [...tool, 'contract', '--check', input.contractFile ?? '', '--config', input.configFile];
  return `  contract:
    name: ${JSON.stringify(`MCP contract of ${input.app} is current`)}
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
${setup}      - name: ${JSON.stringify(`Compare ${input.contractFile} with the server`)}
        run: ${JSON.stringify(command(check))}
`;
}

/** Writes the workflow under `repoRoot`; an existing one is replaced only with `force`. */
export async function writeWorkflow(
  repoRoot: string,
  text: string,
  options: { force: boolean; path?: string },
): Promise<{ path: string; replaced: boolean }> {
  const relativePath = options.path ?? workflowPath;
  const path = join(repoRoot, relativePath);
  const exists = existsSync(path);
  if (exists && !options.force) {
    throw new DeployError('usage', `${relativePath} already exists; left as it is.`, {
      hint: 'Compare it with `mcp-deploy ci github --print`, or replace it with --force.',
    });
  }
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return { path, replaced: exists };
}

/**
 * The job's first lines: the SSH key and known_hosts from their secrets into files only the
 * runner's user can read (umask 077), through env: never pasted into the script.
 */
export function runnerKeyLines(input: Pick<WorkflowInput, 'identityFile' | 'knownHosts'>): string[] {
  return [
    'umask 077',
    `key=${runnerShellPath(input.identityFile)}`,
    `known=${runnerShellPath(input.knownHosts)}`,
    'mkdir -p "$(dirname "$key")" "$(dirname "$known")"',
    `printf '%s\\n' "$MCP_DEPLOY_SSH_KEY" > "$key"`,
    `printf '%s\\n' "$MCP_DEPLOY_KNOWN_HOSTS" >> "$known"`,
  ];
}

/** `~/x` as shell text that expands on the runner; anything else quoted as it is. */
export function runnerShellPath(path: string): string {
  return path.startsWith('~/') ? `"$HOME"/${quote(path.slice(2))}` : quote(path);
}

function dirOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index <= 0 ? '.' : path.slice(0, index);
}

/** GitHub's path filters are globs: a literal `*`, `?`, `[`, `]`, `!` or `+` in a folder name is escaped. */
function escapeGlob(path: string): string {
  return path.replace(/[*?[\]!+]/g, (character) => `\\${character}`);
}
