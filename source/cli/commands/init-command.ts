import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, parseConfig, selectTarget } from '../../config/load.js';
import { DeployError, describeError, isDeployError } from '../../errors.js';
import { renderWorkflow, workflowPath, writeWorkflow } from '../../ops/github-workflow.js';
import { assertPinnedMcpDeploy, findRepoRoot, workflowInputFor } from '../../ops/github-workflow-input.js';
import {
  answerProblem,
  answersFrom,
  defaultTexts,
  initFields,
  publicUrlOf,
  renderConfig,
  type Supervisor,
  supervisors,
  type AnswerTexts,
  type FieldKey,
} from '../../ops/init-config.js';
import { appNameForFolder, detectProject, inspectFolder, localAnswerProblem, type Detection } from '../../ops/init-detect.js';
import { reuseServerConfig } from '../../ops/init-reuse.js';
import type { InitWizardPort, WorkflowOffer } from '../../ui/init-wizard.js';
import type { Output } from '../output.js';
import { chooseFace } from '../terminal.js';
import { packageVersion } from '../version.js';

export type InitOptions = {
  readonly yes?: boolean;
  readonly app?: string;
  readonly source?: string;
  readonly entry?: string;
  readonly host?: string;
  readonly user?: string;
  readonly port?: string;
  readonly identityFile?: string;
  readonly knownHosts?: string;
  readonly path?: string;
  readonly domain?: string;
  readonly target?: string;
  readonly force?: boolean;
  readonly ciGithub?: boolean;
  readonly color?: boolean;
  /** `systemd` (the default) or `process`. */
  readonly supervisor?: string;
};

const configName = '.mcpdeployrc';

/**
 * `mcp-deploy init`: looks at the repository, then asks (in a terminal) or takes the flags (with
 * --yes, without a terminal, or in CI), and writes `.mcpdeployrc`, and the GitHub workflow when
 * asked to. An existing file is replaced only after a yes, or with --force.
 */
export async function initCommand(options: InitOptions, output: Output, cwd = process.cwd()): Promise<number> {
  // Checked before anything is asked or written.
  supervisorOption(options.supervisor);
  const detection = await detectProject(cwd);
  const initial = initialTexts(detection, options);
  const configFile = join(detection.root, configName);
  if (chooseFace({ yes: options.yes ?? false, json: false }) === 'app') {
    const { renderInitWizard } = await import('../../ui/render-init-wizard.js');
    return renderInitWizard(wizardPort(detection, initial, configFile, options), {
      color: output.color,
    });
  }
  return initWithFlags(detection, initial, configFile, options, output);
}

async function initWithFlags(
  detection: Detection,
  texts: AnswerTexts,
  configFile: string,
  options: InitOptions,
  output: Output,
): Promise<number> {
  const force = options.force ?? false;
  if (existsSync(configFile) && !force) {
    throw new DeployError('usage', `${configName} already exists in ${detection.root}; left as it is.`, {
      hint: 'Edit it by hand, or replace it with mcp-deploy init --yes --force (or run mcp-deploy init in a terminal to review the new one first).',
    });
  }
  const repoRoot = options.ciGithub ? workflowRepoRoot(detection.root, force) : null;
  const problems = problemsOf(detection.root, texts);
  const missing = problems.filter((problem) => problem.message === 'is required');
  if (problems.length > 0) {
    const flags = missing.map((problem) => flagOf(problem.key));
    const lines = [
      ...(missing.length > 0
        ? [
            `mcp-deploy init --yes needs ${flags.join(', ')}: nothing in the repository can stand in for ${missing.length === 1 ? 'it' : 'them'}.`,
          ]
        : []),
      ...problems.filter((problem) => problem.message !== 'is required').map((problem) => `${flagOf(problem.key)}: ${problem.message}`),
    ];
    const example = `--host mcp.example.org --path /srv/mcp/${texts.app || 'app'} --domain mcp.example.org`;
    throw new DeployError('usage', lines.join('\n'), {
      hint:
        missing.length > 0
          ? `Nothing was written. Pass them (e.g. ${example}), or run mcp-deploy init in a terminal to be asked.`
          : 'Nothing was written. Fix the values above and run it again.',
    });
  }
  const { paint } = output;
  const out = (line: string) => output.line(line);
  out(paint.bold(`mcp-deploy init: ${detection.root}`));
  for (const line of describeDetection(detection)) out(`  ${line}`);
  if (options.source !== undefined) out(`  using:  ${texts.source.trim()} (--source)`);
  out(`${paint.green('✔')} ${writeConfig(detection.root, configFile, texts, force, supervisorOption(options.supervisor))}`);
  if (repoRoot !== null) {
    const [first, ...rest] = await writeGithubWorkflow(configFile, force);
    out(`${paint.green('✔')} ${first ?? ''}`);
    for (const line of rest) out(`  ${line}`);
  }
  out(paint.cyan('Next: mcp-deploy validate (local checks), mcp-deploy setup (lays out the host), mcp-deploy doctor, then mcp-deploy.'));
  return 0;
}

/** The answers before any question: detected values, then defaults, then flags over both. */
export function initialTexts(detection: Detection, options: InitOptions): AnswerTexts {
  const chosen = options.source === undefined ? detection.server : inspectFolder(detection.root, options.source);
  const texts: AnswerTexts = {
    app: (options.source === undefined ? null : appNameForFolder(options.source)) ?? detection.app,
    source: chosen?.folder ?? '.',
    entry: chosen?.entry ?? '',
    requirements: chosen?.requirements ?? '',
    ontologies: chosen?.ontologies.join(', ') ?? '',
    host: '',
    user: defaultTexts.user,
    port: defaultTexts.port,
    identityFile: '',
    knownHosts: '',
    path: '',
    domain: '',
    target: defaultTexts.target,
    // A server folder with a config of its own: its answers, not the defaults.
    ...(chosen === null ? {} : (reuseServerConfig(detection.root, chosen.folder)?.texts ?? {})),
  };
  const flags: Partial<Record<FieldKey, string | undefined>> = {
    app: options.app,
    source: options.source,
    entry: options.entry,
    host: options.host,
    user: options.user,
    port: options.port,
    identityFile: options.identityFile,
    knownHosts: options.knownHosts,
    path: options.path,
    domain: options.domain,
    target: options.target,
  };
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) texts[key as FieldKey] = value;
  return texts;
}

/** Every answer's problem: its format first, then whether the file or folder it names is there. */
function problemsOf(root: string, texts: AnswerTexts): { key: FieldKey; message: string }[] {
  const problems: { key: FieldKey; message: string }[] = [];
  for (const { key } of initFields) {
    const message = problemOf(root, key, texts);
    if (message !== null) problems.push({ key, message });
  }
  return problems;
}

function problemOf(root: string, key: FieldKey, texts: AnswerTexts): string | null {
  const format = answerProblem(key, texts[key]);
  if (format !== null) return format;
  if (key === 'source' || key === 'entry' || key === 'requirements' || key === 'ontologies') {
    return localAnswerProblem(root, key, { source: texts.source.trim(), value: texts[key].trim() });
  }
  return null;
}

function flagOf(key: FieldKey): string {
  const field = initFields.find((candidate) => candidate.key === key)!;
  return field.flag ?? `the detected ${field.label.toLowerCase()}`;
}

/** The config text for these answers, checked by the same parser every command uses. */
function configText(root: string, file: string, texts: AnswerTexts, supervisor: Supervisor): string {
  const facts = inspectFolder(root, texts.source.trim());
  const text = renderConfig(
    answersFrom(texts, { healthPath: facts.mentionsHealth ? '/health' : null, supervisor, project: facts.runtime }),
  );
  try {
    parseConfig(text, file, {});
  } catch (error) {
    throw new Error(`init rendered a config that does not load: ${describeError(error)}`, { cause: error });
  }
  return text;
}

/** Writes the config; never over an existing file unless `replace` (then atomically, by rename). */
function writeConfig(root: string, file: string, texts: AnswerTexts, replace: boolean, supervisor: Supervisor): string {
  const text = configText(root, file, texts, supervisor);
  if (replace) {
    const temporary = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, text);
      renameSync(temporary, file);
    } finally {
      rmSync(temporary, { force: true });
    }
  } else {
    try {
      writeFileSync(file, text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new DeployError('usage', `${configName} appeared while init ran; left as it is.`);
      throw error;
    }
  }
  const answers = answersFrom(texts, { healthPath: null });
  return `Wrote ${configName}: ${answers.app} (${answers.source === '.' ? '' : `${answers.source}/`}${answers.entry}) → ${answers.user}@${answers.host}:${answers.path}, target ${answers.targetName}, ${publicUrlOf(answers.domain)}.`;
}

/** For --ci-github: the repository it goes into, checked before anything is written. */
function workflowRepoRoot(root: string, force: boolean): string {
  const repoRoot = findRepoRoot(root);
  if (repoRoot === null) {
    throw new DeployError('usage', `--ci-github: ${root} is not inside a git repository; nothing was written.`, {
      hint: 'Run mcp-deploy init in the repository GitHub builds, or leave out --ci-github.',
    });
  }
  if (existsSync(join(repoRoot, workflowPath)) && !force) {
    throw new DeployError('usage', `--ci-github: ${workflowPath} already exists; nothing was written.`, {
      hint: 'Compare it with mcp-deploy ci github --print, or replace both files with --force.',
    });
  }
  assertPinnedMcpDeploy(repoRoot);
  return repoRoot;
}

/** The workflow `mcp-deploy ci github` writes, from the config just written. Returns what to tell. */
async function writeGithubWorkflow(configFile: string, replace: boolean): Promise<string[]> {
  const config = loadConfig({ file: configFile });
  const target = selectTarget(config, undefined);
  const repoRoot = findRepoRoot(dirname(config.file));
  if (repoRoot === null) throw new DeployError('usage', `${config.file} is not inside a git repository.`);
  const input = workflowInputFor(config, target, repoRoot, { version: packageVersion() });
  const written = await writeWorkflow(repoRoot, renderWorkflow(input), { force: replace });
  return [
    `${written.replaced ? 'Replaced' : 'Wrote'} ${workflowPath}: deploys ${config.app} to ${target.name} on pushes to ${input.branch} and v* tags.`,
    `Add repository secrets MCP_DEPLOY_SSH_KEY (the deploy key) and MCP_DEPLOY_KNOWN_HOSTS (ssh-keyscan -p ${target.port} ${target.host ?? '<host>'}, checked by you).`,
  ];
}

function wizardPort(detection: Detection, initial: AnswerTexts, configFile: string, options: InitOptions): InitWizardPort {
  const root = detection.root;
  const repoRoot = findRepoRoot(root);
  const unpinned = repoRoot === null ? null : pinProblem(repoRoot);
  const workflow: WorkflowOffer =
    repoRoot === null
      ? { available: false, reason: 'this folder is not in a git repository.' }
      : unpinned !== null
        ? { available: false, reason: unpinned }
        : {
            available: true,
            path: workflowPath,
            preselected: options.ciGithub ?? false,
            exists: () => existsSync(join(repoRoot, workflowPath)),
            write: (replace) => writeGithubWorkflow(configFile, replace),
          };
  return {
    detection,
    initial,
    configName,
    configExists: existsSync(configFile),
    force: options.force ?? false,
    problem: (key, texts) => problemOf(root, key, texts),
    suggestFor: (source) => {
      const facts = inspectFolder(root, source);
      const app = appNameForFolder(source);
      return {
        entry: facts.entry ?? '',
        requirements: facts.requirements ?? '',
        ontologies: facts.ontologies.join(', '),
        ...(app === null ? {} : { app }),
      };
    },
    render: (texts) => configText(root, configFile, texts, supervisorOption(options.supervisor)),
    write: (texts, replace) => writeConfig(root, configFile, texts, replace, supervisorOption(options.supervisor)),
    workflow,
  };
}

/** What was found, one line each, for the plain output. */
function describeDetection(detection: Detection): string[] {
  const { server } = detection;
  const lines =
    server === null
      ? ['server: none found; the entry came from --entry']
      : [`server: ${server.folder === '.' ? './' : `${server.folder}/`} (${server.reasons.join('; ')})`];
  if (detection.others.length > 0)
    lines.push(`also:   ${detection.others.map((other) => `${other.folder}/`).join(', ')} (choose with --source)`);
  lines.push(`remote: ${detection.gitRemote ?? 'none'}`);
  lines.push(`name:   ${detection.app}, ${detection.appReason}`);
  const shadowed = detection.existingConfigs.filter((name) => name !== configName);
  if (shadowed.length > 0) lines.push(`note:   ${shadowed.join(', ')} is here too; ${configName} is read first from now on.`);
  return lines;
}

/** mcp-deploy's own version, named in the workflow's header. */

/** Why the workflow cannot be offered yet (mcp-deploy is not pinned in the repository), or null. */
function pinProblem(repoRoot: string): string | null {
  try {
    assertPinnedMcpDeploy(repoRoot);
    return null;
  } catch (error) {
    return `${describeError(error)} ${isDeployError(error) && error.hint ? error.hint : ''}`.trim();
  }
}

/** `--supervisor`: systemd unless asked otherwise; anything else is a usage error before anything is written. */
function supervisorOption(value: string | undefined): Supervisor {
  if (value === undefined) return 'systemd';
  const found = supervisors.find((candidate) => candidate === value);
  if (found === undefined) {
    throw new DeployError('usage', `--supervisor ${JSON.stringify(value)}: expected ${supervisors.join(' or ')}.`, {
      hint: 'systemd (a unit per colour, back after a reboot) on hosts that run it; process elsewhere.',
    });
  }
  return found;
}
