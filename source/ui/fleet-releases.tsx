import { Box, useApp, useInput, useWindowSize } from 'ink';
import { type ReactElement, useState } from 'react';
import type { FleetReleasesListing } from './engine-port.js';
import { Line, Paint } from './paint.js';

const markWidth = 8;

/**
 * `mcp-deploy releases` on a fleet in a terminal: every release any host has, newest first, a
 * column per host with its mark, rows where the hosts differ flagged; ↑/↓ choose one, and the line
 * under the table says host by host what it is there. q leaves.
 */
export function FleetReleasesBrowser({ listing }: { readonly listing: FleetReleasesListing }): ReactElement {
  const { exit } = useApp();
  const { rows: height } = useWindowSize();
  const [cursor, setCursor] = useState(0);
  useInput((input, key) => {
    if (key.upArrow || input === 'k') setCursor((index) => Math.max(0, index - 1));
    if (key.downArrow || input === 'j') setCursor((index) => Math.min(listing.rows.length - 1, index + 1));
    if (input === 'q' || key.escape || (key.ctrl && input === 'c')) exit(0);
  });
  const { hosts, rows } = listing;
  // Title, heading, the detail line, the legend and the hint; the rest for rows, windowed round the cursor.
  const room = Math.max(3, height - 6);
  const start = Math.min(Math.max(0, cursor - Math.floor(room / 2)), Math.max(0, rows.length - room));
  const shown = rows.slice(start, start + room);
  const selected = rows[cursor];
  const lines: ReactElement[] = [
    <Line key="title">
      <Paint bold>{`mcp-deploy releases · ${hosts.length} hosts · ${rows.filter((row) => row.differs).length} differ`}</Paint>
    </Line>,
    <Line key="head">
      <Paint tone="muted">{`${''.padEnd(32)}${hosts.map((host) => host.slice(0, markWidth - 1).padEnd(markWidth)).join('')}`}</Paint>
    </Line>,
  ];
  shown.forEach((row, offset) => {
    const index = start + offset;
    lines.push(
      <Line key={row.id}>
        <Paint tone={row.differs ? 'warn' : 'plain'}>{row.differs ? '! ' : '  '}</Paint>
        <Paint bold={index === cursor} inverse={index === cursor}>
          {row.id.padEnd(30)}
        </Paint>
        <Paint>{hosts.map((host) => (row.hosts[host] ?? '·').padEnd(markWidth)).join('')}</Paint>
      </Line>,
    );
  });
  if (rows.length === 0)
    lines.push(
      <Line key="empty">
        <Paint tone="muted">No releases on any host yet.</Paint>
      </Line>,
    );
  lines.push(
    <Line key="detail">
      <Paint>{selected ? `${selected.id}: ${hosts.map((host) => `${host} ${describeMark(selected.hosts[host])}`).join(', ')}` : ''}</Paint>
    </Line>,
    <Line key="legend">
      <Paint tone="muted">{`● active ○ present ✖ failed · missing${listing.unreadable.length > 0 ? ` · unreadable: ${listing.unreadable.join(', ')}` : ''}`}</Paint>
    </Line>,
    <Line key="hint">
      <Paint tone="muted">↑/↓ choose · q quit</Paint>
    </Line>,
  );
  return <Box flexDirection="column">{lines}</Box>;
}

function describeMark(mark: string | undefined): string {
  if (mark === '●') return 'active';
  if (mark === '○') return 'present';
  if (mark === '✖') return 'failed';
  return 'missing';
}
