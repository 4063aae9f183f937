import type { ReactElement } from 'react';
import type { InitWizardPort } from './init-wizard-port.js';
import { Line, Paint, type Tone } from './paint.js';

/** What was found, in a few rows above the questions. */
export function detectionLines(port: Pick<InitWizardPort, 'detection' | 'configExists' | 'configName' | 'force'>): ReactElement[] {
  const { detection } = port;
  const { server } = detection;
  const row = (key: string, label: string, tone: Tone, text: string) => (
    <Line key={key}>
      <Paint tone="muted">{label.padEnd(9)}</Paint>
      <Paint tone={tone}>{text}</Paint>
    </Line>
  );
  const lines: ReactElement[] = [];
  if (server === null) {
    lines.push(
      row(
        'server',
        'server',
        'warn',
        'no MCP server found (a .py that imports mcp or FastMCP, or a server.py/main.py): give the entry by hand',
      ),
    );
  } else {
    const [why, ...more] = server.reasons;
    lines.push(row('server', 'server', 'ok', `${server.folder === '.' ? './' : `${server.folder}/`} — ${why ?? 'looks like a server'}`));
    if (more.length > 0) lines.push(row('server.more', '', 'plain', more.join(' · ')));
  }
  if (detection.others.length > 0) {
    lines.push(
      row(
        'others',
        'also',
        'muted',
        `${detection.others.map((other) => `${other.folder}/`).join(', ')} (type another source folder to use one)`,
      ),
    );
  }
  lines.push(row('remote', 'remote', detection.gitRemote ? 'plain' : 'muted', detection.gitRemote ?? 'none (no git remote "origin")'));
  lines.push(row('name', 'name', 'plain', `${detection.app}, ${detection.appReason}`));
  if (port.configExists) {
    lines.push(
      row(
        'exists',
        '',
        'warn',
        `${port.configName} exists: ${port.force ? '--force replaces it' : 'you will be asked before it is replaced'}.`,
      ),
    );
  }
  return lines;
}
