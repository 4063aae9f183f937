import { Box } from 'ink';
import { memo, useMemo, type ReactElement } from 'react';
import type { LogEntry, LogStore } from './log-store.js';
import { isProbeLine } from './engine-port.js';
import { logWindow, type LogView } from './log-view.js';
import { Line, Paint, type Tone } from './paint.js';

export type LogPaneProps = {
  readonly store: LogStore;
  /** Changes once per feed flush; the pane re-reads the store only then. */
  readonly version: number;
  readonly view: LogView;
  /** Rows including the title row. */
  readonly height: number;
  readonly title: string;
  readonly focused: boolean;
};

/**
 * The last lines of a ring buffer, never more rows than it was given. Memoised on the feed's
 * version so the spinner's ticks do not re-filter two thousand lines ten times a second.
 */
export const LogPane = memo(function LogPane({ store, version, view, height, title, focused }: LogPaneProps): ReactElement | null {
  const entries = useMemo(() => store.entries(view.filter), [store, version, view.filter]);
  if (height < 1) return null;
  const window = logWindow(entries, view, height - 1);
  const state = view.follow ? 'following' : `paused, ${window.below} newer · end follows`;
  const filter = view.filter === '' ? '' : ` · filter "${view.filter}" ${entries.length}/${store.size}`;
  const heading = view.editing ? `/${view.filter}█  enter keeps · esc clears` : `${title} · ${state}${filter}`;
  return (
    <Box flexDirection="column">
      <Line>
        <Paint tone={focused ? 'info' : 'muted'} inverse={focused}>{`─ ${heading} `}</Paint>
        <Paint tone="muted">{window.above > 0 ? ` ↑${window.above}` : ''}</Paint>
      </Line>
      {window.lines.map((entry) => (
        <Line key={entry.seq}>{lineTone(entry) === 'plain' ? entry.text : <Paint tone="muted">{entry.text}</Paint>}</Line>
      ))}
      {window.lines.length === 0 && height > 1 ? (
        <Line>
          <Paint tone="muted">{view.filter === '' ? '(no log lines yet)' : '(no lines match the filter)'}</Paint>
        </Line>
      ) : null}
    </Box>
  );
});

/**
 * The server's lines are the pane's subject; mcp-deploy's own, and the server's lines about
 * mcp-deploy's probe (a server that logs the User-Agent marks them), are dimmed beside them. The
 * marker stays in the text, so the difference survives NO_COLOR.
 */
export function lineTone(entry: Pick<LogEntry, 'source' | 'text'>): Tone {
  return entry.source === 'server' && !isProbeLine(entry.text) ? 'plain' : 'muted';
}
