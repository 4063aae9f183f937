import type { ReactElement } from 'react';
import type { DeployPlan } from './engine-port.js';
import { formatAge } from '../run/format.js';
import { formatBytes } from '../run/format.js';
import { Line, Paint } from './paint.js';

/**
 * The plan screen: what a deploy would change, before anything changes. The release id is made
 * on the host when the deploy starts, so here it is only "a new release".
 */
export function planLines(plan: DeployPlan): ReactElement[] {
  const { files, bytes, requirements, tools, lock } = plan;
  const lines: ReactElement[] = [];
  const add = (label: string, body: ReactElement | string) =>
    lines.push(
      <Line key={label}>
        <Paint tone="muted">{`  ${label.padEnd(7)} `}</Paint>
        {body}
      </Line>,
    );

  lines.push(
    <Line key="title">
      <Paint bold>Plan: a new release for {plan.target}</Paint>
      <Paint tone="muted">{plan.base === null ? ' — first deploy, nothing to compare with' : ` — compared with ${plan.base}`}</Paint>
    </Line>,
  );

  if (plan.base !== null && !plan.baseHasManifest) {
    add('files', `${files.total} file(s); the active release has no manifest, so every file is sent`);
  } else {
    add(
      'files',
      <>
        <Paint tone="ok">{`+${files.added} new`}</Paint>
        {'  '}
        <Paint tone="warn">{`~${files.changed} changed`}</Paint>
        {'  '}
        <Paint tone="fail">{`-${files.removed} removed`}</Paint>
        <Paint tone="muted">{`  · ${files.unchanged} unchanged (linked on the host)`}</Paint>
      </>,
    );
  }
  add('upload', `${formatBytes(bytes.upload)} of ${formatBytes(bytes.total)}`);

  if (requirements.kind === 'venv' || requirements.kind === 'deps') {
    const short = requirements.hash.slice(0, 12);
    const label = requirements.kind === 'venv' ? 'python' : 'install';
    const what = requirements.kind === 'venv' ? `venv ${short}` : `shared/deps ${short}`;
    const pins = requirements.kind === 'venv' ? 'requirements' : 'dependencies';
    add(
      label,
      requirements.changed ? (
        <Paint tone="warn">{`${pins} changed: ${what} is used (built now unless another release made it)`}</Paint>
      ) : (
        `${pins} unchanged: ${what} is reused`
      ),
    );
    add('by', <Paint tone="muted">{requirements.why}</Paint>);
    if (requirements.node !== null) add('node', nodeSummary(requirements.node));
    if (requirements.problem !== null) {
      add('problem', <Paint tone="fail">{`${requirements.problem.message} → ${requirements.problem.hint}`}</Paint>);
    }
  } else if (requirements.kind === 'command') {
    add('install', `runtime.install runs: ${requirements.command}`);
  } else {
    add('install', <Paint tone="muted">{`nothing to install (${requirements.reason})`}</Paint>);
  }

  add('tools', toolsSummary(tools));
  lines.push(...contractLines(plan.contract));
  add('drain', sessionsSummary(plan.sessions));

  if (!lock.held) add('lock', 'free');
  else {
    // The consequence first: a narrow terminal cuts the end of the row.
    const holder = lock.info ? `${lock.info.operator}@${lock.info.localHost} (${lock.info.operation})` : 'an unknown holder';
    const age = lock.ageSeconds === null ? '' : `, ${formatAge(lock.ageSeconds)} old`;
    add(
      'lock',
      <Paint tone={lock.stale ? 'warn' : 'fail'}>
        {lock.stale
          ? `stale (${lock.staleReason ?? 'old'}): --force breaks it; held by ${holder}${age}`
          : `held: this deploy will stop at connect; by ${holder}${age}`}
      </Paint>,
    );
  }
  return lines;
}

/** How many breaking contract changes the plan shows: the confirmation asks for more than a yes when any. */
export function planBreaks(plan: DeployPlan): number {
  return plan.contract.diff?.counts.breaking ?? 0;
}

/** Safe changes beyond this many are counted, not listed: breaking and risky ones are always listed. */
const listedSafeChanges = 5;

/** The MCP contract against the active release's: a summary row, then one row per change, breaking first. */
function contractLines(contract: DeployPlan['contract']): ReactElement[] {
  const row = (key: string, label: string, body: ReactElement | string) => (
    <Line key={key}>
      <Paint tone="muted">{`  ${label.padEnd(7)} `}</Paint>
      {body}
    </Line>
  );
  if (contract.next === null) return [];
  const { diff } = contract;
  if (diff === null) {
    const why = contract.active === null ? 'the active release recorded none to compare with' : '';
    return [row('contract', 'mcp', <Paint tone="muted">{`contract read locally; ${why || 'nothing to compare with'}`}</Paint>)];
  }
  if (diff.changes.length === 0) return [row('contract', 'mcp', 'contract unchanged')];
  const { breaking, risky, safe } = diff.counts;
  const lines = [
    row(
      'contract',
      'mcp',
      <>
        <Paint tone={breaking > 0 ? 'fail' : 'muted'} bold={breaking > 0}>{`${breaking} breaking`}</Paint>
        {'  '}
        <Paint tone={risky > 0 ? 'warn' : 'muted'}>{`${risky} risky`}</Paint>
        {'  '}
        <Paint tone="muted">{`${safe} safe`}</Paint>
        <Paint tone="muted">{' contract change(s)'}</Paint>
      </>,
    ),
  ];
  const listed = diff.changes.filter(
    (change, index) => change.severity !== 'safe' || index < diff.changes.length - safe + listedSafeChanges,
  );
  for (const [index, change] of listed.entries()) {
    const mark = change.severity === 'breaking' ? '✖ breaking' : change.severity === 'risky' ? '! risky   ' : '· safe    ';
    const tone = change.severity === 'breaking' ? 'fail' : change.severity === 'risky' ? 'warn' : 'muted';
    lines.push(
      <Line key={`contract.${index}`}>
        <Paint tone={tone}>{`    ${mark} `}</Paint>
        {change.text}
      </Line>,
    );
  }
  if (listed.length < diff.changes.length) {
    lines.push(
      <Line key="contract.more">
        <Paint tone="muted">{`    … ${diff.changes.length - listed.length} more safe change(s): mcp-deploy diff lists them all`}</Paint>
      </Line>,
    );
  }
  return lines;
}

function nodeSummary(node: NonNullable<Extract<DeployPlan['requirements'], { kind: 'deps' }>['node']>): ReactElement | string {
  if (node.version === null) return <Paint tone="fail">not found on the host</Paint>;
  if (node.engines === null) return `${node.version} on the host (package.json sets no engines.node)`;
  if (node.satisfied === false)
    return <Paint tone="fail">{`${node.version} on the host does not satisfy engines.node ${node.engines}`}</Paint>;
  return `${node.version} on the host satisfies engines.node ${node.engines}`;
}

function sessionsSummary(sessions: DeployPlan['sessions']): ReactElement | string {
  if (sessions.colour === null) return <Paint tone="muted">first deploy: no sessions to wait for</Paint>;
  if (sessions.pinned === null) return <Paint tone="warn">the public URL did not answer: cannot tell whether sessions are pinned</Paint>;
  if (!sessions.pinned)
    return <Paint tone="warn">{`sessions are not pinned: those on ${sessions.colour} end at the switch (mcp-deploy doctor)`}</Paint>;
  const bound = `until quiet for ${sessions.idleSeconds} s, at most ${sessions.maxSeconds} s`;
  return sessions.active === 0
    ? `no active session on ${sessions.colour}: it is retired right after the switch`
    : `waits for ${sessions.active} active session(s) on ${sessions.colour}, ${bound}`;
}

function toolsSummary(tools: DeployPlan['tools']): ReactElement | string {
  if (tools.next === null) return <Paint tone="muted">not known: the local checks did not list them</Paint>;
  if (tools.active === null) return `${tools.next.length} tool(s): ${tools.next.join(', ') || '(none)'}`;
  if (tools.appearing.length === 0 && tools.disappearing.length === 0) return `the same ${tools.next.length} tool(s)`;
  return (
    <>
      {tools.appearing.map((tool) => (
        <Paint key={`+${tool}`} tone="ok">{`+${tool} `}</Paint>
      ))}
      {tools.disappearing.map((tool) => (
        <Paint key={`-${tool}`} tone="fail">{`-${tool} `}</Paint>
      ))}
    </>
  );
}
