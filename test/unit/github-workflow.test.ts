import { createOutput } from '../../source/cli/output.js';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { ciCommand } from '../../source/cli/commands/ci-command.js';
import { loadConfig, selectTarget } from '../../source/config/load.js';
import { DeployError } from '../../source/errors.js';
import { renderMonitorWorkflow } from '../../source/ops/github-monitor-workflow.js';
import { workflowInputFor } from '../../source/ops/github-workflow-input.js';
import { renderWorkflow, workflowPath, writeWorkflow, type WorkflowInput } from '../../source/ops/github-workflow.js';

/** The workflow `mcp-deploy ci github` writes, read back as YAML and its scripts run for real. */

type Step = {
  name?: string;
  uses?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
  run?: string;
  'working-directory'?: string;
};
type Workflow = {
  on: {
    push: { branches: string[]; tags: string[]; paths?: string[] };
    workflow_dispatch: { inputs: Record<string, { type: string; required?: boolean; default?: unknown }> };
  };
  concurrency: { group: string; 'cancel-in-progress': boolean };
  jobs: { deploy: { environment: string; steps: Step[] } };
};

/** The repository pins mcp-deploy as a devDependency, resolved with an integrity hash in its lockfile. */
function pinMcpDeploy(root: string): void {
  writeFileSync(join(root, 'package.json'), JSON.stringify({ devDependencies: { 'mcp-deploy': 'file:vendor/mcp-deploy-0.1.0.tgz' } }));
  writeFileSync(
    join(root, 'package-lock.json'),
    JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { devDependencies: { 'mcp-deploy': 'file:vendor/mcp-deploy-0.1.0.tgz' } },
        'node_modules/mcp-deploy': { version: '0.1.0', resolved: 'file:vendor/mcp-deploy-0.1.0.tgz', integrity: 'sha512-AAAA', dev: true },
      },
    }),
  );
}

let repo: string;

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'mcpd-workflow-'));
  mkdirSync(join(repo, '.git'));
  mkdirSync(join(repo, 'services', 'ontology'), { recursive: true });
  writeFileSync(join(repo, 'services', 'ontology', 'requirements.txt'), '');
  writeFileSync(
    join(repo, 'services', 'ontology', '.mcpdeployrc.json'),
    JSON.stringify({
      app: 'ontology',
      source: '.',
      runtime: { type: 'python', entry: 'server.py', requirements: 'requirements.txt' },
      env: { required: ['API_TOKEN'], file: '.env.production' },
      targets: {
        production: {
          host: 'mcp.example.org',
          path: '/srv/mcp/ontology',
          publicUrl: 'https://mcp.example.org',
          identityFile: '~/.ssh/deploy_ed25519',
        },
      },
    }),
  );
});

beforeEach(() => pinMcpDeploy(repo));

afterEach(() => rmSync(repo, { recursive: true, force: true }));

function input(overrides: Partial<WorkflowInput> = {}): WorkflowInput {
  const config = loadConfig({ file: join(repo, 'services', 'ontology', '.mcpdeployrc.json'), environment: {} });
  return { ...workflowInputFor(config, selectTarget(config, undefined), repo, { version: '0.1.0' }), ...overrides };
}

function workflow(overrides: Partial<WorkflowInput> = {}): { text: string; parsed: Workflow } {
  const text = renderWorkflow(input(overrides));
  return { text, parsed: parse(text) as Workflow };
}

const step = (parsed: Workflow, match: (step: Step) => boolean): Step => {
  const found = parsed.jobs.deploy.steps.find(match);
  if (!found) throw new Error('step not found');
  return found;
};

describe('the generated GitHub workflow', () => {
  it('deploys on pushes to main that touch the server folder or its config, on v* tags, and by hand with a rollback switch', () => {
    const { parsed } = workflow();
    expect(parsed.on.push.branches).toEqual(['main']);
    expect(parsed.on.push.tags).toEqual(['v*']);
    expect(parsed.on.push.paths).toEqual(['services/ontology/**', 'services/ontology/.mcpdeployrc.json']);
    expect(parsed.on.workflow_dispatch.inputs['rollback']).toMatchObject({ type: 'boolean', default: false });
    expect(parsed.on.workflow_dispatch.inputs['release']).toMatchObject({ type: 'string', required: false });
  });

  it('has no path filter when the server is the whole repository', () => {
    expect(workflow({ source: '' }).parsed.on.push.paths).toBeUndefined();
  });

  it('runs on Node 24 with npm and pip cached, installs the requirements, and runs only the mcp-deploy npm ci installed', () => {
    const { parsed } = workflow();
    expect(step(parsed, (s) => s.uses?.startsWith('actions/setup-node@') === true).with).toEqual({ 'node-version': '24', cache: 'npm' });
    expect(step(parsed, (s) => s.uses?.startsWith('actions/setup-python@') === true).with).toEqual({
      'python-version': '3.x',
      cache: 'pip',
      'cache-dependency-path': 'services/ontology/requirements.txt',
    });
    expect(parsed.jobs.deploy.steps.some((s) => s.run === 'python -m pip install -r services/ontology/requirements.txt')).toBe(true);
    expect(parsed.jobs.deploy.steps.some((s) => s.run === 'npm ci')).toBe(true);
    const deploy = step(parsed, (s) => s.run?.includes('GITHUB_STEP_SUMMARY') === true);
    expect(deploy.run).toContain(
      'npx --no-install mcp-deploy "$@" --config services/ontology/.mcpdeployrc.json --target production --yes --json',
    );
    expect(deploy.run).not.toMatch(/mcp-deploy@|npx --yes/);
  });

  it('refuses to write a workflow when the repository does not pin mcp-deploy in its lockfile', () => {
    // Given no dependency at all, then a dependency without a pinned lockfile entry
    rmSync(join(repo, 'package.json'));
    expect(() => input()).toThrow(/does not depend on mcp-deploy/);
    writeFileSync(join(repo, 'package.json'), JSON.stringify({ devDependencies: { 'mcp-deploy': '^0.1.0' } }));
    writeFileSync(join(repo, 'package-lock.json'), JSON.stringify({ packages: { 'node_modules/mcp-deploy': { version: '0.1.0' } } }));
    const error = (() => {
      try {
        input();
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(DeployError);
    expect((error as DeployError).exitCode).toBe(2);
    expect((error as DeployError).message).toContain('does not pin mcp-deploy');
    expect((error as DeployError).hint).toContain('npm install --save-dev');

    // A git dependency pinned to a commit is pinned too
    writeFileSync(
      join(repo, 'package-lock.json'),
      JSON.stringify({ packages: { 'node_modules/mcp-deploy': { resolved: `git+https://example.org/mcp-deploy.git#${'a'.repeat(40)}` } } }),
    );
    expect(() => input()).not.toThrow();
  });

  it('runs in an environment named after the target, names the actor as the operator, and removes the key whatever happened', () => {
    const { parsed, text } = workflow();
    expect(parsed.jobs.deploy.environment).toBe('production');
    expect(text).toContain('required reviewers');
    const deploy = step(parsed, (s) => s.run?.includes('GITHUB_STEP_SUMMARY') === true);
    expect(deploy.env?.['MCP_DEPLOY_OPERATOR']).toBe('${{ github.actor }}');
    const remove = step(parsed, (s) => s.name === 'Remove the SSH key') as Step & { if?: string };
    expect(remove.if).toBe('always()');
    expect(remove.run?.trim()).toBe('rm -f "$HOME"/.ssh/deploy_ed25519');
    const steps = parsed.jobs.deploy.steps;
    expect(steps.indexOf(remove)).toBe(steps.length - 1);
  });

  it('keeps runs by hand, pushes and pull requests in concurrency groups of their own, so a push never replaces a queued rollback', () => {
    const { parsed } = workflow();
    expect(parsed.concurrency).toEqual({
      group: "mcp-deploy-production-${{ github.event_name == 'workflow_dispatch' && 'by-hand' || github.event_name }}",
      'cancel-in-progress': false,
    });
  });

  it('waits while the host is locked by another run (exit 4), bounded, then carries on', () => {
    // Given an npx that answers "locked" twice, then succeeds, and a sleep that does not wait
    const { parsed } = workflow();
    const deploy = step(parsed, (s) => s.run?.includes('GITHUB_STEP_SUMMARY') === true);
    const bin = join(repo, 'bin');
    mkdirSync(bin);
    const fakeNpx = [
      '#!/bin/sh',
      'n=$(cat "$RUNNER_TEMP/n" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$RUNNER_TEMP/n"',
      `[ "$n" -ge 3 ] && { echo '{"ok":true}'; exit 0; }`,
      'exit 4',
      '',
    ].join('\n');
    writeFileSync(join(bin, 'npx'), fakeNpx, { mode: 0o755 });
    writeFileSync(join(bin, 'sleep'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', deploy.run!], {
      cwd: repo,
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${process.env['PATH']}`,
        RUNNER_TEMP: repo,
        GITHUB_STEP_SUMMARY: join(repo, 'summary.md'),
        ROLLBACK: 'true',
        RELEASE: '',
      },
    });

    // Then it ran three times and the step succeeded
    expect(result.status, result.stderr).toBe(0);
    expect(readFileSync(join(repo, 'n'), 'utf8').trim()).toBe('3');
    expect(result.stdout).toContain('The host is locked by another run; waiting 30 s (attempt 2 of 20).');
  });

  it('warns in the workflow when the target host is one a hosted runner cannot reach', () => {
    expect(workflow().text).not.toContain('WARNING');
    expect(workflow({ unreachableHost: '10.0.0.5' }).text).toContain(
      "WARNING: the target's host 10.0.0.5 is a loopback, private or local-network address",
    );
  });

  it('installs a node server’s dependencies in its folder before the build and the local checks', () => {
    writeFileSync(join(repo, 'services', 'ontology', 'package.json'), '{"name":"x"}');
    writeFileSync(join(repo, 'services', 'ontology', 'package-lock.json'), '{}');
    const file = join(repo, 'services', 'ontology', '.mcpdeployrc.json');
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...raw, runtime: { type: 'node', entry: 'dist/index.js' } }));
    const { parsed } = workflow();
    const install = step(parsed, (s) => s.run === 'npm ci' && s['working-directory'] === 'services/ontology');
    expect(install.name).toContain('dependencies');
    expect(parsed.jobs.deploy.steps.some((s) => s.run?.includes('pip install') === true)).toBe(false);
  });

  it('uses the secrets only through env, never in a script, and never prints them', () => {
    const { parsed, text } = workflow();
    const secretUses = [...text.matchAll(/\$\{\{\s*secrets\.([A-Z_]+)\s*\}\}/g)].map((match) => match[1]);
    expect(new Set(secretUses)).toEqual(new Set(['MCP_DEPLOY_SSH_KEY', 'MCP_DEPLOY_KNOWN_HOSTS', 'MCP_DEPLOY_ENV_FILE']));
    for (const s of parsed.jobs.deploy.steps) {
      // No expression is pasted into shell text: inputs and secrets arrive as variables.
      expect(s.run ?? '').not.toContain('${{');
      for (const [name, value] of Object.entries(s.env ?? {})) {
        if (value.includes('secrets.')) expect(value).toBe(`\${{ secrets.${name} }}`);
      }
    }
    const write = step(parsed, (s) => s.env?.['MCP_DEPLOY_SSH_KEY'] !== undefined);
    expect(write.run?.split('\n')[0]).toBe('umask 077');
    // Each secret variable is only ever the argument of a printf into a file (or tested for emptiness).
    for (const line of write.run!.split('\n').filter((line) => line.includes('$MCP_DEPLOY_'))) {
      expect(line).toMatch(/printf '%s\\n' "\$MCP_DEPLOY_[A-Z_]+" >>? /);
    }
    expect(text).not.toMatch(/echo[^\n]*MCP_DEPLOY_|set -x/);
  });

  it('writes the key, known host and env file with mode 600 where the config looks for them, printing nothing', () => {
    // Given the secrets step, run by bash as GitHub runs it, in a fake runner home and checkout
    const { parsed } = workflow();
    const write = step(parsed, (s) => s.env?.['MCP_DEPLOY_SSH_KEY'] !== undefined);
    const home = join(repo, 'home');
    mkdirSync(home);
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', write.run!], {
      cwd: repo,
      encoding: 'utf8',
      env: {
        PATH: process.env['PATH'],
        HOME: home,
        MCP_DEPLOY_SSH_KEY: 'PRIVATE KEY',
        MCP_DEPLOY_KNOWN_HOSTS: 'mcp.example.org ssh-ed25519 AAAA',
        MCP_DEPLOY_ENV_FILE: 'API_TOKEN=s3cr3t',
      },
    });

    // Then the files exist, private, with the exact contents, and nothing was printed
    expect(result.status, result.stderr).toBe(0);
    expect(`${result.stdout}${result.stderr}`).toBe('');
    const files = {
      [join(home, '.ssh', 'deploy_ed25519')]: 'PRIVATE KEY\n',
      [join(home, '.ssh', 'known_hosts')]: 'mcp.example.org ssh-ed25519 AAAA\n',
      [join(repo, 'services', 'ontology', '.env.production')]: 'API_TOKEN=s3cr3t\n',
    };
    for (const [file, content] of Object.entries(files)) {
      expect(readFileSync(file, 'utf8')).toBe(content);
      expect(statSync(file).mode & 0o777, file).toBe(0o600);
    }
  });

  it('passes a rollback release to mcp-deploy as one argument, and writes the JSON result to the step summary', () => {
    // Given the deploy step and an npx that records its arguments and prints a JSON result
    const { parsed } = workflow();
    const deploy = step(parsed, (s) => s.run?.includes('GITHUB_STEP_SUMMARY') === true);
    const bin = join(repo, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'npx'),
      '#!/bin/sh\nfor a in "$@"; do printf "<%s>" "$a"; done > "$RUNNER_TEMP/args"\necho \'{"ok":false}\'\nexit 1\n',
      { mode: 0o755 },
    );
    const summary = join(repo, 'summary.md');
    const run = (env: Record<string, string>) =>
      spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', deploy.run!], {
        cwd: repo,
        encoding: 'utf8',
        env: { PATH: `${bin}:${process.env['PATH']}`, RUNNER_TEMP: repo, GITHUB_STEP_SUMMARY: summary, ...env },
      });

    // When a rollback to a hostile-looking release id runs
    const result = run({ ROLLBACK: 'true', RELEASE: 'x"; touch pwned; "' });

    // Then mcp-deploy got it as one argument, its exit code is the step's, and the summary has the JSON
    expect(result.status).toBe(1);
    expect(readFileSync(join(repo, 'args'), 'utf8')).toBe(
      '<--no-install><mcp-deploy><rollback><x"; touch pwned; "><--config><services/ontology/.mcpdeployrc.json><--target><production><--yes><--json>',
    );
    expect(() => statSync(join(repo, 'pwned'))).toThrow();
    expect(readFileSync(summary, 'utf8')).toContain(
      '### mcp-deploy rollback: ontology → production (exit 1)\n\n```json\n{"ok":false}\n```',
    );

    // And on a push (no inputs) it deploys
    run({ ROLLBACK: '', RELEASE: '' });
    expect(readFileSync(join(repo, 'args'), 'utf8')).toMatch(/^<--no-install><mcp-deploy><deploy><--config>/);
  });

  it('every script is valid bash', () => {
    for (const s of workflow().parsed.jobs.deploy.steps) {
      if (s.run) execFileSync('bash', ['-n', '-c', s.run]);
    }
  });

  it('adds a pull-request job that fails on a stale committed MCP contract, and keeps deploys off pull requests', () => {
    const { parsed } = workflow({ contractFile: 'services/ontology/mcp-contract.json' });
    const on = parsed.on as Workflow['on'] & { pull_request?: { paths?: string[] } };
    expect(on.pull_request?.paths).toEqual([
      'services/ontology/**',
      'services/ontology/.mcpdeployrc.json',
      'services/ontology/mcp-contract.json',
    ]);
    const jobs = parsed.jobs as Workflow['jobs'] & { contract?: { if: string; steps: Step[] } };
    const deployJob = parsed.jobs.deploy as Workflow['jobs']['deploy'] & { if?: string };
    expect(deployJob.if).toBe("github.event_name != 'pull_request'");
    expect(jobs.contract?.if).toBe("github.event_name == 'pull_request'");
    const check = jobs.contract?.steps.at(-1);
    expect(check?.run).toBe(
      'npx --no-install mcp-deploy contract --check services/ontology/mcp-contract.json --config services/ontology/.mcpdeployrc.json',
    );
    // The check starts the server, so the job installs what the deploy job does, and never sees the secrets.
    expect(jobs.contract?.steps.some((s) => s.uses === 'actions/setup-python@v5')).toBe(true);
    expect(JSON.stringify(jobs.contract)).not.toContain('secrets.');
    for (const s of jobs.contract?.steps ?? []) if (s.run) execFileSync('bash', ['-n', '-c', s.run]);
    // Without the option, neither the job nor the trigger.
    const plain = workflow().parsed as Workflow & { on: { pull_request?: unknown }; jobs: { contract?: unknown } };
    expect(plain.on.pull_request).toBeUndefined();
    expect(plain.jobs.contract).toBeUndefined();
  });

  it('refuses a path GitHub would evaluate as an expression', () => {
    expect(() => renderWorkflow(input({ source: 'x/${{ github.token }}' }))).toThrow(DeployError);
  });
});

describe('writing the workflow', () => {
  it('never overwrites an existing workflow without --force', async () => {
    // Given a repository that already has the workflow
    const first = await writeWorkflow(repo, 'first\n', { force: false });
    expect(first).toEqual({ path: join(repo, workflowPath), replaced: false });

    // When it is written again without force, it refuses and leaves the file; with force it replaces it
    await expect(writeWorkflow(repo, 'second\n', { force: false })).rejects.toThrow(/already exists/);
    expect(readFileSync(join(repo, workflowPath), 'utf8')).toBe('first\n');
    expect(await writeWorkflow(repo, 'third\n', { force: true })).toEqual({ path: join(repo, workflowPath), replaced: true });
    expect(readFileSync(join(repo, workflowPath), 'utf8')).toBe('third\n');
  });
});

describe('mcp-deploy ci github', () => {
  it('writes the workflow for the config it is given, names the secrets to add, and refuses to overwrite it without --force', async () => {
    // Given a repository with a config in a subfolder
    const config = join(repo, 'services', 'ontology', '.mcpdeployrc.json');
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      // When the command runs
      expect(await ciCommand('github', { config }, createOutput({ color: false }))).toBe(0);

      // Then the workflow is at the repository root, for this version of mcp-deploy, and the output lists the secrets
      const ownVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
      expect(readFileSync(join(repo, workflowPath), 'utf8')).toContain(`(mcp-deploy ${ownVersion})`);
      const output = written.join('');
      for (const secret of ['MCP_DEPLOY_SSH_KEY', 'MCP_DEPLOY_KNOWN_HOSTS', 'MCP_DEPLOY_ENV_FILE']) expect(output).toContain(secret);

      // And a second run without --force leaves it alone
      await expect(ciCommand('github', { config }, createOutput({ color: false }))).rejects.toThrow(DeployError);
      expect(await ciCommand('github', { config, force: true }, createOutput({ color: false }))).toBe(0);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('the scheduled monitor workflow (ci github --monitor)', () => {
  type MonitorWorkflow = {
    on: { schedule: { cron: string }[]; workflow_dispatch: unknown };
    concurrency: { group: string; 'cancel-in-progress': boolean };
    jobs: { monitor: { environment?: string; steps: Step[] } };
  };
  const render = (schedule = '*/10 * * * *') => parse(renderMonitorWorkflow(input(), schedule)) as MonitorWorkflow;

  it('runs monitor --once with the pinned mcp-deploy on the schedule, outside the deploy environment, and removes the key', () => {
    const parsed = render();
    expect(parsed.on.schedule).toEqual([{ cron: '*/10 * * * *' }]);
    expect(parsed.on).toHaveProperty('workflow_dispatch');
    expect(parsed.concurrency).toEqual({ group: 'mcp-deploy-monitor-production', 'cancel-in-progress': false });
    // Required reviewers on the deploy environment would hold every scheduled check.
    expect(parsed.jobs.monitor.environment).toBeUndefined();
    const steps = parsed.jobs.monitor.steps;
    expect(steps.some((s) => s.run === 'npm ci')).toBe(true);
    const check = steps.find((s) => s.run?.includes('monitor --once') === true)!;
    expect(check.run).toContain(
      'npx --no-install mcp-deploy monitor --once --config services/ontology/.mcpdeployrc.json --target production --json',
    );
    const last = steps.at(-1)!;
    expect(last).toMatchObject({ name: 'Remove the SSH key', if: 'always()' });
    for (const s of steps) if (s.run) execFileSync('bash', ['-n', '-c', s.run]);
  });

  it('passes the monitor exit code on, so the job fails while the target is unhealthy', () => {
    const check = render().jobs.monitor.steps.find((s) => s.run?.includes('monitor --once') === true)!;
    const bin = join(repo, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npx'), '#!/bin/sh\necho \'{"healthy":false}\'\nexit 1\n', { mode: 0o755 });
    const result = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', check.run!], {
      cwd: repo,
      encoding: 'utf8',
      env: { PATH: `${bin}:${process.env['PATH']}`, RUNNER_TEMP: repo, GITHUB_STEP_SUMMARY: join(repo, 'summary.md') },
    });
    expect(result.status).toBe(1);
    expect(readFileSync(join(repo, 'summary.md'), 'utf8')).toContain('{"healthy":false}');
  });

  it('refuses a schedule that is not five cron fields', () => {
    expect(() => renderMonitorWorkflow(input(), 'every 5 minutes')).toThrow(/not a cron schedule/);
    expect(() => renderMonitorWorkflow(input(), '*/5 * * * * ${{ secrets.X }}')).toThrow(DeployError);
  });
});
