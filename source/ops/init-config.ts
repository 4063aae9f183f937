import { appName, type RawConfig } from '../config/schema.js';
import type { RuntimeFacts } from './init-project.js';
import { type Entry, inline, nodeRuntimeEntries, pythonRuntimeEntries, renderEntries } from './init-render.js';

/**
 * The answers `mcp-deploy init` collects, checked one by one, and the `.mcpdeployrc` they make:
 * a config object, and the same rendered as commented JSON in the manner of
 * `.mcpdeployrc.example`. Pure: nothing here reads the disk or the terminal.
 */

/** The questions, in the order they are asked. `flag` is how `--yes` takes the answer, if at all. */
export const initFields = [
  { key: 'app', label: 'App name', flag: '--app', required: true, hint: 'Names the nginx upstream, the systemd unit and notifications.' },
  {
    key: 'source',
    label: 'Source folder',
    flag: '--source',
    required: true,
    hint: 'The folder that is shipped, relative to here. Only its files go to the host.',
  },
  {
    key: 'entry',
    label: 'Server entry',
    flag: '--entry',
    required: true,
    hint: 'The file that starts the server (server.py, or dist/index.js for node), relative to the source folder.',
  },
  {
    key: 'requirements',
    label: 'Requirements',
    flag: null,
    required: false,
    hint: 'Python: requirements.txt or pyproject.toml, relative to the source folder. Empty: none (a node server installs from its lockfile).',
  },
  {
    key: 'ontologies',
    label: 'Ontologies',
    flag: null,
    required: false,
    hint: 'Globs of Turtle files that must parse before a deploy, comma-separated. Empty: none.',
  },
  { key: 'host', label: 'SSH host', flag: '--host', required: true, hint: 'The machine to deploy to: a name or an address.' },
  {
    key: 'user',
    label: 'SSH user',
    flag: '--user',
    required: true,
    hint: 'Who mcp-deploy logs in as; nothing runs as root except nginx test/reload via sudo -n.',
  },
  { key: 'port', label: 'SSH port', flag: '--port', required: true, hint: 'The SSH port on the host.' },
  {
    key: 'identityFile',
    label: 'SSH key',
    flag: '--identity-file',
    required: false,
    hint: 'The private key to log in with, on this machine. Empty: the SSH agent and ~/.ssh/id_ed25519, id_ecdsa, id_rsa.',
  },
  {
    key: 'knownHosts',
    label: 'Known hosts',
    flag: '--known-hosts',
    required: false,
    hint: "The known_hosts file holding the host's key (checked strictly). Empty: ~/.ssh/known_hosts.",
  },
  {
    key: 'path',
    label: 'Deploy path',
    flag: '--path',
    required: true,
    hint: 'The absolute folder on the host where releases live, e.g. /srv/mcp/<app>.',
  },
  {
    key: 'domain',
    label: 'Public domain',
    flag: '--domain',
    required: true,
    hint: 'Where clients reach the server through nginx: becomes https://<domain>.',
  },
  {
    key: 'target',
    label: 'Target name',
    flag: '--target',
    required: true,
    hint: 'What this host is called in the config (--target NAME picks it).',
  },
] as const;

export type InitField = (typeof initFields)[number];
export type FieldKey = InitField['key'];
/** Every answer as typed: one line of text per question. */
export type AnswerTexts = Record<FieldKey, string>;

export type InitAnswers = {
  readonly app: string;
  readonly source: string;
  readonly entry: string;
  readonly requirements: string | null;
  readonly ontologies: readonly string[];
  readonly host: string;
  readonly user: string;
  readonly port: number;
  readonly identityFile: string | null;
  readonly knownHosts: string | null;
  readonly path: string;
  readonly domain: string;
  readonly targetName: string;
  /** An HTTP route checked on every new release, when the source has one; else null. */
  readonly healthPath: string | null;
  /** How the host keeps the server running; systemd unless asked otherwise (the nginx reload assumes it too). */
  readonly supervisor?: Supervisor;
  /** What init found about how the source runs (node or python, lockfile, build); absent: python. */
  readonly project?: RuntimeFacts | null;
};

export const supervisors = ['systemd', 'process'] as const;
export type Supervisor = (typeof supervisors)[number];

export const defaultTexts = { user: 'deploy', port: '22', target: 'production' } as const satisfies Partial<AnswerTexts>;

export const sudoNginx = { test: 'sudo -n nginx -t', reload: 'sudo -n systemctl reload nginx' } as const;

/** What is wrong with one typed answer, or null. Only the format: whether files exist is asked elsewhere. */
export function answerProblem(key: FieldKey, raw: string): string | null {
  const value = raw.trim();
  const field = initFields.find((candidate) => candidate.key === key)!;
  if (value === '') return field.required ? 'is required' : null;
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'must be one line of text';
  switch (key) {
    case 'app':
      return appName.safeParse(value).success
        ? null
        : 'expected letters, digits, "-", "_" or "." (at most 63, starting with a letter or digit)';
    case 'source':
    case 'entry':
    case 'requirements':
      return value.startsWith('/') ? 'expected a path relative to this folder' : null;
    case 'ontologies':
      return null;
    case 'identityFile':
    case 'knownHosts':
      return /\s/.test(value) ? 'expected a path without spaces (~/ for your home folder)' : null;
    case 'host':
      if (value.includes('@')) return 'just the host; the user has a question of its own';
      return /^[A-Za-z0-9._:[\]%-]+$/.test(value) ? null : 'expected a host name or an IP address';
    case 'user':
      return /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(value) ? null : 'expected a user name';
    case 'port': {
      const port = Number(value);
      return /^\d+$/.test(value) && port >= 1 && port <= 65535 ? null : `expected a port 1-65535, got ${JSON.stringify(value)}`;
    }
    case 'path':
      return value.startsWith('/') ? null : 'expected an absolute path on the host, like /srv/mcp/app';
    case 'domain':
      return publicUrlProblem(value);
    case 'target':
      return /^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(value) ? null : 'expected letters, digits, "-" and "_"';
  }
}

/** `mcp.example.org` → `https://mcp.example.org`; a URL typed in full is kept as it is. */
export function publicUrlOf(domain: string): string {
  const trimmed = domain.trim().replace(/\/+$/, '');
  return /^https?:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
}

function publicUrlProblem(domain: string): string | null {
  if (/\s/.test(domain)) return 'expected a domain name, without spaces';
  try {
    const url = new URL(publicUrlOf(domain));
    if (url.hostname === '') return 'expected a domain name';
    if (url.username !== '' || url.password !== '') return 'a public URL carries no user or password';
    return null;
  } catch {
    return 'expected a domain name, like mcp.example.org';
  }
}

/** The answers as the config needs them; call after every `answerProblem` came back null. */
export function answersFrom(
  texts: AnswerTexts,
  options: { readonly healthPath: string | null; readonly supervisor?: Supervisor; readonly project?: RuntimeFacts | null },
): InitAnswers {
  const text = (key: FieldKey) => texts[key].trim();
  return {
    app: text('app'),
    source: normaliseRelative(text('source')),
    entry: normaliseRelative(text('entry')),
    requirements: text('requirements') === '' ? null : normaliseRelative(text('requirements')),
    ontologies: text('ontologies')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
    host: text('host'),
    user: text('user'),
    port: Number(text('port')),
    identityFile: text('identityFile') === '' ? null : text('identityFile'),
    knownHosts: text('knownHosts') === '' ? null : text('knownHosts'),
    path: text('path').length > 1 ? text('path').replace(/\/+$/, '') : text('path'),
    domain: text('domain'),
    targetName: text('target'),
    healthPath: options.healthPath,
    ...(options.supervisor === undefined ? {} : { supervisor: options.supervisor }),
    ...(options.project ? { project: options.project } : {}),
  };
}

/** The config object the answers make (before defaults: only what is worth writing down). */
export function buildConfig(answers: InitAnswers): RawConfig {
  return {
    app: answers.app,
    source: answers.source,
    exclude: [],
    runtime: isNode(answers)
      ? { type: 'node', entry: answers.entry }
      : { type: 'python', entry: answers.entry, ...(answers.requirements === null ? {} : { requirements: answers.requirements }) },
    ...(nodeBuild(answers) === null ? {} : { build: nodeBuild(answers)! }),
    ontologies: [...answers.ontologies],
    health: {
      http: answers.healthPath === null ? [] : [{ path: answers.healthPath, status: 200 }],
      mcp: { path: '/mcp', expectTools: [] },
      timeoutSeconds: 30,
    },
    targets: {
      [answers.targetName]: {
        default: true,
        host: answers.host,
        port: answers.port,
        user: answers.user,
        ...(answers.identityFile === null ? {} : { identityFile: answers.identityFile }),
        ...(answers.knownHosts === null ? {} : { knownHosts: answers.knownHosts }),
        path: answers.path,
        publicUrl: publicUrlOf(answers.domain),
        nginx: { test: sudoNginx.test, reload: sudoNginx.reload },
        supervisor: answers.supervisor ?? 'systemd',
      },
    },
  };
}

/** The config as commented JSON: each key says in a line what it is for, like .mcpdeployrc.example. */
export function renderConfig(answers: InitAnswers): string {
  const config = buildConfig(answers);
  const target = config.targets[answers.targetName]!;
  const project = answers.project;
  const runtime = isNode(answers)
    ? nodeRuntimeEntries({ entry: answers.entry, lockfile: project?.type === 'node' ? project.lockfile : null })
    : pythonRuntimeEntries(answers);
  const build = nodeBuild(answers);
  const health: Entry[] = [
    {
      comment:
        answers.healthPath === null
          ? ['Routes that must answer on a new release, e.g. { "path": "/health", "status": 200 }.']
          : [`Routes that must answer on a new release (the source mentions ${answers.healthPath}).`],
      key: 'http',
      value: inline(config.health?.http ?? []),
    },
    {
      comment: ['A real MCP handshake (initialize, tools/list); list tools here that must be present.'],
      key: 'mcp',
      value: inline(config.health?.mcp ?? {}),
    },
    { comment: ['How long a new release may take to pass every check.'], key: 'timeoutSeconds', value: '30' },
  ];
  const targetEntries: Entry[] = [
    { comment: ['The target used without --target.'], key: 'default', value: 'true' },
    { key: 'host', value: inline(answers.host) },
    { key: 'port', value: String(answers.port) },
    { key: 'user', value: inline(answers.user) },
    answers.identityFile === null
      ? {
          comment: [
            'Private key (default ~/.ssh/id_ed25519, id_ecdsa, id_rsa); the SSH agent is tried too.',
            '"identityFile": "~/.ssh/id_ed25519",',
          ],
        }
      : { comment: ['Private key to log in with; the SSH agent is tried too.'], key: 'identityFile', value: inline(answers.identityFile) },
    ...(answers.knownHosts === null
      ? []
      : [{ comment: ["known_hosts holding the host's key (checked strictly)."], key: 'knownHosts', value: inline(answers.knownHosts) }]),
    { comment: ['Deploy root on the host; `mcp-deploy setup` lays it out.'], key: 'path', value: inline(answers.path) },
    {
      comment: ['Where clients reach the server through nginx; checked after every switch.'],
      key: 'publicUrl',
      value: inline(target.publicUrl),
    },
    {
      key: 'nginx',
      value: [
        {
          comment: ['Run on the host after each switch, through sudo -n; `mcp-deploy setup` prints the sudoers rule for them.'],
          key: 'test',
          value: inline(sudoNginx.test),
        },
        { key: 'reload', value: inline(sudoNginx.reload) },
      ],
    },
    {
      comment:
        (answers.supervisor ?? 'systemd') === 'systemd'
          ? [
              'A systemd unit per colour, enabled while it serves, so the server comes back after a reboot;',
              '`mcp-deploy setup` installs it. "process" for a host without systemd (doctor checks which it runs).',
            ]
          : ['A detached process group per colour: it does not come back after a reboot (`mcp-deploy restart` starts it).'],
      key: 'supervisor',
      value: inline(answers.supervisor ?? 'systemd'),
    },
  ];
  const top: Entry[] = [
    { comment: ['Names the nginx upstream (mcp_<app>), the systemd unit and notifications.'], key: 'app', value: inline(answers.app) },
    {
      comment: ['The folder that is shipped, relative to this file. Only its files go to the host.'],
      key: 'source',
      value: inline(answers.source),
    },
    {
      comment: ['gitignore-style patterns, relative to "source", never shipped (.git/, .venv/, __pycache__/ never are).'],
      key: 'exclude',
      value: '[]',
    },
    { key: 'runtime', value: runtime, gap: true },
    ...(build === null
      ? []
      : [
          {
            comment: [`Run on this machine before the checks; only "output" (with package.json and the lockfile) ships.`],
            key: 'build',
            value: inline(build),
            gap: true,
          },
        ]),
    {
      comment: ['Globs, relative to "source", of Turtle files that must parse before a deploy.'],
      key: 'ontologies',
      value: inline(answers.ontologies),
      gap: true,
    },
    { key: 'health', value: health, gap: true },
    { key: 'targets', value: [{ key: answers.targetName, value: targetEntries }], gap: true },
  ];
  const header = [
    '// mcp-deploy configuration, written by `mcp-deploy init` (JSON; comments and trailing commas allowed).',
    '// docs/config.md explains every key. Check it with `mcp-deploy validate`; prepare the host with `mcp-deploy setup`.',
  ];
  return `${header.join('\n')}\n{\n${renderEntries(top, '  ')}\n}\n`;
}

function isNode(answers: InitAnswers): boolean {
  return answers.project?.type === 'node';
}

function nodeBuild(answers: InitAnswers): { command: string; output: string } | null {
  const project = answers.project;
  if (project?.type !== 'node' || project.build === null) return null;
  // Only while the entry is what the build makes: a hand-typed entry elsewhere needs no build.
  return answers.entry.startsWith(`${project.build.output}/`) ? { command: project.build.command, output: project.build.output } : null;
}

function normaliseRelative(path: string): string {
  const cleaned = path
    .replace(/\\/g, '/')
    .replace(/^(\.\/)+/, '')
    .replace(/\/+$/, '');
  return cleaned === '' ? '.' : cleaned;
}
