import type { ReactElement } from 'react';
import { formatBytes, formatDuration } from '../run/format.js';
import { Line, Paint, wrapRows } from './paint.js';
import { isRecoveryStep } from '../run/step-ids.js';
import type { Outcome, RollbackRow, Row, StepRow } from './run-model.js';
import { Busy } from './busy.js';

/** Failure details (a server log tail, findings) beyond this many lines stay out of the checklist. */
export const maxDetailLines = 8;

export type ChecklistOptions = {
  /** Wall-clock now, for running rows' elapsed time. */
  readonly now: number;
  readonly width: number;
};

/**
 * The checklist as one element per terminal row, so the screen can give it an exact number of
 * rows and window it; a row with a failure or a progress bar takes several.
 */
export function checklistLines(rows: readonly Row[], options: ChecklistOptions): ReactElement[] {
  const lines: ReactElement[] = [];
  let inRecovery = false;
  rows.forEach((row, index) => {
    const key = `${index}`;
    if (row.kind === 'rollback') {
      inRecovery = true;
      lines.push(rollbackLine(row, key));
      return;
    }
    const indent = inRecovery && isRecoveryStep(row.id) ? '  ' : '';
    lines.push(...stepLines(row, key, indent, options));
  });
  return lines;
}

function rollbackLine(row: RollbackRow, key: string): ReactElement {
  const [tone, text] =
    row.phase === 'start'
      ? (['warn', `↺ Rolling back: ${row.reason}`] as const)
      : row.phase === 'done'
        ? (['warn', `↺ Rolled back (${row.reason})`] as const)
        : (['fail', `↺ Rollback incomplete: ${row.reason}`] as const);
  return (
    <Line key={key}>
      <Paint tone={tone}>{text}</Paint>
    </Line>
  );
}

function stepLines(row: StepRow, key: string, indent: string, options: ChecklistOptions): ReactElement[] {
  const duration = row.ms === undefined ? '' : ` (${formatDuration(row.ms)})`;
  switch (row.status) {
    case 'pending':
      return [
        <Line key={key}>
          <Paint tone="muted">{`${indent}· ${row.title}`}</Paint>
        </Line>,
      ];
    case 'running': {
      const elapsed = row.startedAt === null ? 0 : options.now - row.startedAt;
      const lines = [
        <Line key={key}>
          {indent}
          <Busy /> {row.title}
          <Paint tone="muted">{elapsed >= 1000 ? `  ${formatDuration(elapsed)}` : ''}</Paint>
        </Line>,
      ];
      if (row.progress) lines.push(progressLine(row.progress, `${key}.progress`, `${indent}  `, options.width));
      return lines;
    }
    case 'done':
      return [
        <Line key={key}>
          {indent}
          <Paint tone="ok">✔</Paint> {row.title}
          {/* The duration before the detail: a narrow terminal cuts the end of the row. */}
          <Paint tone="muted">{`${duration}${row.detail ? ` — ${row.detail}` : ''}`}</Paint>
        </Line>,
      ];
    case 'skipped':
      return [
        <Line key={key}>
          {indent}
          <Paint tone="warn">-</Paint> {row.title}
          <Paint tone="muted">{` (skipped: ${row.reason ?? 'no reason given'})`}</Paint>
        </Line>,
      ];
    case 'failed': {
      const lines = [
        <Line key={key}>
          {indent}
          <Paint tone="fail">✖</Paint> {row.title}
          <Paint tone="muted">{duration}</Paint>
        </Line>,
      ];
      lines.push(
        ...wrapRows(`${indent}    ${row.message ?? ''}`, options.width, `${indent}    `).map((text, index) => (
          <Line key={`${key}.m${index}`}>
            <Paint tone="fail">{text}</Paint>
          </Line>
        )),
      );
      const details = row.details ?? [];
      lines.push(...details.slice(0, maxDetailLines).map((text, index) => <Line key={`${key}.d${index}`}>{`${indent}    ${text}`}</Line>));
      if (details.length > maxDetailLines) {
        lines.push(
          <Line key={`${key}.more`}>
            <Paint tone="muted">{`${indent}    … ${details.length - maxDetailLines} more line(s); the log pane has the server's output`}</Paint>
          </Line>,
        );
      }
      if (row.hint) {
        lines.push(
          ...wrapRows(`${indent}    → ${row.hint}`, options.width, `${indent}      `).map((text, index) => (
            <Line key={`${key}.hint${index}`}>
              <Paint tone="info">{text}</Paint>
            </Line>
          )),
        );
      }
      return lines;
    }
  }
}

function progressLine(progress: NonNullable<StepRow['progress']>, key: string, indent: string, width: number): ReactElement {
  const ratio = progress.total > 0 ? Math.min(1, Math.max(0, progress.done / progress.total)) : 0;
  const barWidth = Math.max(8, Math.min(30, width - 44));
  const filled = Math.round(ratio * barWidth);
  const amount =
    progress.unit === 'bytes'
      ? `${formatBytes(progress.done)} / ${formatBytes(progress.total)}`
      : `${progress.done}/${progress.total} ${progress.unit}`;
  return (
    <Line key={key}>
      {indent}
      <Paint tone="info">{'█'.repeat(filled)}</Paint>
      <Paint tone="muted">{'░'.repeat(barWidth - filled)}</Paint>
      {` ${String(Math.floor(ratio * 100)).padStart(3)}%  ${amount}${progress.detail ? ` · ${progress.detail}` : ''}`}
    </Line>
  );
}

/** The result rows; a hint (what to do next) goes before them, so what serves now is the last line. */
export function outcomeLines(outcome: Outcome, width: number): ReactElement[] {
  return [
    ...(outcome.hint ? wrapRows(`  → ${outcome.hint}`, width, '    ') : []).map((text, index) => (
      <Line key={`outcome.hint${index}`}>
        <Paint tone="info">{text}</Paint>
      </Line>
    )),
    ...wrapRows(outcome.text, width, '  ').map((text, index) => (
      <Line key={`outcome${index}`}>
        <Paint tone={outcome.tone} bold>
          {text}
        </Paint>
      </Line>
    )),
    ...(outcome.serving ? wrapRows(outcome.serving, width, '  ') : []).map((text, index) => (
      <Line key={`outcome.serving${index}`}>
        <Paint bold>{text}</Paint>
      </Line>
    )),
  ];
}
