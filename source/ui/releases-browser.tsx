import { Box, useInput } from 'ink';
import { useEffect, useState, type ReactElement } from 'react';
import { describeSummary, summarizeContract, type ReleaseRow } from './engine-port.js';
import { formatAge } from '../run/format.js';
import { formatBytes } from '../run/format.js';
import type { AppEngine, Failure, ReleasesListing } from './engine-port.js';
import { Line, Paint } from './paint.js';
import { initialCursor, listWindow, rollbackRefusal } from './releases-model.js';
import { Busy } from './busy.js';

export type ReleasesBrowserProps = {
  readonly engine: AppEngine;
  readonly height: number;
  /** Whether this screen takes keys (false while another screen is shown or the filter is typed). */
  readonly active: boolean;
  /** Open the y/n question at once: for `mcp-deploy rollback [RELEASE]` (true: the default pick). */
  readonly ask?: string | true;
  readonly closing: boolean;
  /** What q does here, for the hint. */
  readonly leaveLabel: 'quit' | 'back';
  readonly onRollback: (release: string) => void;
  readonly onLeave: () => void;
  readonly onListing: (listing: ReleasesListing) => void;
  readonly onFailure: (failure: Failure) => void;
};

type BrowserState =
  | { readonly kind: 'loading' }
  | { readonly kind: 'failed'; readonly failure: Failure }
  | {
      readonly kind: 'ready';
      readonly listing: ReleasesListing;
      readonly cursor: number;
      readonly asking: string | null;
      readonly message: string | null;
    };

/**
 * `mcp-deploy releases` in a terminal: newest first, marks and audit results, the selected
 * release's tools and failure; `r` asks before it rolls back, and only `y` goes ahead.
 */
export function ReleasesBrowser(props: ReleasesBrowserProps): ReactElement {
  const { engine } = props;
  const [state, setState] = useState<BrowserState>({ kind: 'loading' });

  useEffect(() => {
    let live = true;
    engine.releases().then(
      (listing) => {
        if (!live) return;
        props.onListing(listing);
        const start = initialCursor(listing.rows, typeof props.ask === 'string' ? props.ask : undefined);
        const row = listing.rows[start.cursor];
        // `mcp-deploy rollback`: ask at once about the release it would pick, unless it cannot be picked.
        const refusal = props.ask !== undefined && start.message === null ? rollbackRefusal(row) : null;
        const asking = props.ask !== undefined && start.message === null && refusal === null ? (row?.id ?? null) : null;
        setState({ kind: 'ready', listing, cursor: start.cursor, asking, message: start.message ?? refusal });
      },
      (error: unknown) => {
        if (!live) return;
        const failure = engine.failure(error);
        setState({ kind: 'failed', failure });
        props.onFailure(failure);
      },
    );
    return () => {
      live = false;
    };
    // Loaded once per visit: coming back after a rollback shows the host as it is now.
  }, [engine]);

  useInput(
    (input, key) => {
      if (state.kind !== 'ready') {
        if (input === 'q' || key.escape) props.onLeave();
        return;
      }
      const rows = state.listing.rows;
      if (state.asking !== null) {
        if (input === 'y' || key.return) props.onRollback(state.asking);
        else if (input === 'n' || input === 'q' || key.escape) setState({ ...state, asking: null, message: 'Nothing changed.' });
        return;
      }
      const move = (to: number) => setState({ ...state, cursor: Math.min(Math.max(0, to), Math.max(0, rows.length - 1)), message: null });
      const page = Math.max(1, listHeight(props.height) - 1);
      if (key.upArrow || input === 'k') move(state.cursor - 1);
      else if (key.downArrow || input === 'j') move(state.cursor + 1);
      else if (key.pageUp) move(state.cursor - page);
      else if (key.pageDown) move(state.cursor + page);
      else if (key.home) move(0);
      else if (key.end) move(rows.length - 1);
      else if (input === 'r') {
        const row = rows[state.cursor];
        const refusal = rollbackRefusal(row);
        setState(refusal === null && row ? { ...state, asking: row.id, message: null } : { ...state, message: refusal });
      } else if (input === 'q' || key.escape) props.onLeave();
    },
    { isActive: props.active },
  );

  const lines = browserLines(state, props);
  return <Box flexDirection="column">{lines}</Box>;
}

/** Rows left for the list once the title, the details, the message and the hint have theirs. */
function listHeight(height: number): number {
  return Math.max(1, height - 6);
}

function browserLines(state: BrowserState, props: ReleasesBrowserProps): ReactElement[] {
  const hint = (text: string) =>
    props.closing
      ? []
      : [
          <Line key="hint">
            <Paint tone="muted">{text}</Paint>
          </Line>,
        ];
  if (state.kind === 'loading') {
    return [
      <Line key="loading">
        <Busy /> Reading the releases…
      </Line>,
      ...hint(`q ${props.leaveLabel}`),
    ];
  }
  if (state.kind === 'failed') {
    return [
      <Line key="failed">
        <Paint tone="fail">{`✖ ${state.failure.message}`}</Paint>
      </Line>,
      ...(state.failure.hint
        ? [
            <Line key="failed.hint">
              <Paint tone="info">{`  → ${state.failure.hint}`}</Paint>
            </Line>,
          ]
        : []),
    ];
  }
  const { rows, malformedAuditLines } = state.listing;
  const selected = rows[state.cursor];
  const lines: ReactElement[] = [
    <Line key="title">
      <Paint bold>{`Releases: ${rows.length}, newest first`}</Paint>
      <Paint tone="warn">{malformedAuditLines > 0 ? ` · audit.log has ${malformedAuditLines} unreadable line(s)` : ''}</Paint>
    </Line>,
  ];
  if (rows.length === 0) lines.push(<Line key="empty">No releases on the host yet.</Line>);
  const window = listWindow(rows.length, state.cursor, listHeight(props.height));
  const idWidth = Math.max(10, ...rows.map((row) => row.id.length));
  const now = Date.now() / 1000;
  rows.slice(window.start, window.end).forEach((row, offset) => {
    const index = window.start + offset;
    lines.push(releaseLine(row, index === state.cursor, idWidth, now));
  });
  if (selected) lines.push(...detailLines(selected));
  if (state.asking !== null) {
    const asked = rows.find((row) => row.id === state.asking);
    lines.push(
      <Line key="ask">
        <Paint tone="warn" bold>
          {`Roll back to ${state.asking}?${asked?.failed ? ' (it failed before)' : ''} y rolls back · n keeps things as they are`}
        </Paint>
      </Line>,
    );
  } else if (state.message !== null) {
    lines.push(
      <Line key="message">
        <Paint tone="warn">{state.message}</Paint>
      </Line>,
    );
  }
  if (state.asking === null) lines.push(...hint(`↑↓ select · r roll back to it · q ${props.leaveLabel}`));
  return lines;
}

function releaseLine(row: ReleaseRow, selected: boolean, idWidth: number, now: number): ReactElement {
  const mark = row.active ? '●' : row.failed ? '✖' : ' ';
  const tag = row.active ? 'active' : row.previous ? 'previous' : row.failed ? 'failed' : '';
  const tone = row.active ? 'ok' : row.failed ? 'fail' : row.previous ? 'info' : 'plain';
  const created = row.createdAt === null ? Number.NaN : Date.parse(row.createdAt) / 1000;
  const age = Number.isNaN(created) ? '?' : formatAge(now - created);
  const size = row.sizeBytes === null ? '?' : formatBytes(row.sizeBytes);
  return (
    <Line key={row.id}>
      <Paint tone="info">{selected ? '› ' : '  '}</Paint>
      <Paint tone={tone}>{`${mark} `}</Paint>
      <Paint inverse={selected} bold={selected}>
        {row.id.padEnd(idWidth)}
      </Paint>
      <Paint tone={tone}>{` ${tag.padEnd(8)}`}</Paint>
      {` ${age.padStart(6)} ${size.padStart(8)} `}
      <Paint tone={row.lastResult === 'ok' ? 'ok' : row.lastResult === null ? 'muted' : 'warn'}>{row.lastResult ?? '-'}</Paint>
    </Line>
  );
}

function detailLines(row: ReleaseRow): ReactElement[] {
  const facts = [
    `by ${row.deployedBy ?? 'unknown'}`,
    row.gitSha ? `git ${row.gitSha.slice(0, 7)}` : null,
    row.files === null ? null : `${row.files} files`,
  ].filter((fact): fact is string => fact !== null);
  const lines = [
    <Line key="detail.who">
      <Paint tone="muted">{`  ${facts.join(' · ')}`}</Paint>
    </Line>,
    <Line key="detail.tools">
      <Paint tone="muted">{`  tools: ${row.tools === null ? 'not recorded' : row.tools.join(', ') || '(none)'}`}</Paint>
    </Line>,
    <Line key="detail.contract">
      <Paint tone="muted">{`  contract: ${row.contract === null ? 'not recorded' : describeSummary(summarizeContract(row.contract))}`}</Paint>
    </Line>,
  ];
  if (row.failed) {
    lines.push(
      <Line key="detail.failed">
        <Paint tone="fail">{`  failed at ${row.failed.step}: ${row.failed.message.split('\n')[0] ?? ''}`}</Paint>
      </Line>,
    );
  } else if (row.problems.length > 0) {
    lines.push(
      <Line key="detail.problems">
        <Paint tone="warn">{`  ${row.problems.join('; ')}`}</Paint>
      </Line>,
    );
  }
  return lines;
}
