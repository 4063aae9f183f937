import type { ReactElement } from 'react';
import type { RunSummary } from './engine-port.js';
import type { DeployPlan } from './engine-port.js';
import { checklistLines, outcomeLines } from './checklist.js';
import { Line, Paint } from './paint.js';
import { planBreaks, planLines } from './plan-view.js';
import { describeOutcome, isRunning, type Outcome, type RunModel } from './run-model.js';
import { Busy } from './busy.js';

/** Where a deploy or rollback screen is: planning, waiting for a yes, running, or over. */
export type RunPhase =
  | { readonly kind: 'planning' }
  | { readonly kind: 'confirm'; readonly plan: DeployPlan }
  | { readonly kind: 'running'; readonly operation: 'deploy' | 'rollback' }
  | { readonly kind: 'finished'; readonly summary: RunSummary }
  /** Ended before anything changed on the host: checks failed, the plan failed, or the operator said no. */
  | { readonly kind: 'stopped'; readonly outcome: Outcome };

export type RunScreenInput = {
  readonly target: string;
  readonly model: RunModel;
  readonly phase: RunPhase;
  readonly now: number;
  readonly width: number;
  /** Rows this screen may use (the header's are already taken). */
  readonly height: number;
  readonly showLog: boolean;
  readonly focus: 'log' | 'checklist';
  readonly checklistOffset: number;
  readonly stopping: boolean;
  readonly flash: string | null;
  /** The last frame before exit: no log pane and no key hints, so what stays on screen is the result. */
  readonly closing: boolean;
  /** Whether q goes back to the releases browser rather than quitting. */
  readonly backToReleases: boolean;
};

export type RunScreenLayout = {
  readonly top: ReactElement[];
  /** Rows for the log pane including its title row; 0 hides it. */
  readonly logHeight: number;
  readonly bottom: ReactElement[];
  readonly checklistMaxOffset: number;
};

/**
 * Gives each part of the screen an exact number of rows: the plan and the result first, then the
 * checklist (windowed, newest rows kept), then whatever is left to the log pane. The total never
 * reaches the terminal's height, where Ink would start clearing the whole screen every frame.
 */
export function layoutRunScreen(input: RunScreenInput): RunScreenLayout {
  const { phase, model } = input;
  const fixedTop: ReactElement[] = phase.kind === 'confirm' ? planLines(phase.plan) : [];
  const status: ReactElement[] = [];
  const outcome = outcomeOf(phase);
  if (phase.kind === 'planning' && !isRunning(model) && !input.stopping) {
    status.push(
      <Line key="planning">
        <Busy />
        {` Reading ${input.target} to plan the deploy…`}
      </Line>,
    );
  }
  if (input.stopping && (phase.kind === 'running' || phase.kind === 'planning')) {
    status.push(
      <Line key="stopping">
        <Paint tone="warn" bold>
          ■ Stopping safely: rolling back what must be and releasing the lock… Ctrl-C again does not quit.
        </Paint>
      </Line>,
    );
  }
  for (const [index, notice] of model.notices.slice(-2).entries()) {
    status.push(
      <Line key={`notice.${index}`}>
        <Paint tone={notice.level === 'warn' ? 'warn' : 'muted'}>{`${notice.level === 'warn' ? '!' : 'i'} ${notice.message}`}</Paint>
      </Line>,
    );
  }
  if (input.flash !== null && !input.closing) {
    status.push(
      <Line key="flash">
        <Paint tone="warn">{input.flash}</Paint>
      </Line>,
    );
  }
  // The result is the last line left on the terminal, after the notices.
  if (outcome) status.push(...outcomeLines(outcome, input.width));
  const bottom = input.closing ? [] : [hintLine(input)];

  let remaining = Math.max(0, input.height - status.length - bottom.length);
  const plan = fixedTop.slice(0, remaining);
  remaining -= plan.length;

  const checklist = checklistLines(model.rows, { now: input.now, width: input.width });
  const wantsLog = input.showLog && !input.closing;
  const logShare = wantsLog ? Math.min(8, Math.floor(remaining / 2)) : 0;
  const checklistHeight = Math.min(checklist.length, remaining - logShare);
  const windowed = windowLines(checklist, checklistHeight, input.checklistOffset, input.focus === 'checklist');
  const logHeight = wantsLog && remaining - windowed.lines.length >= 2 ? remaining - windowed.lines.length : 0;
  return {
    top: [...windowed.lines, ...plan],
    logHeight,
    bottom: [...status, ...bottom],
    checklistMaxOffset: windowed.maxOffset,
  };
}

function outcomeOf(phase: RunPhase): Outcome | null {
  if (phase.kind === 'finished') return describeOutcome(phase.summary);
  if (phase.kind === 'stopped') return phase.outcome;
  return null;
}

/** The newest `height` lines, or older ones when scrolled, with a row saying what is hidden. */
export function windowLines(
  lines: readonly ReactElement[],
  height: number,
  offset: number,
  focused: boolean,
): { lines: ReactElement[]; maxOffset: number } {
  if (height <= 0) return { lines: [], maxOffset: 0 };
  if (lines.length <= height) return { lines: [...lines], maxOffset: 0 };
  if (height === 1) return { lines: [hiddenLine('more', lines.length, focused)], maxOffset: 0 };
  const maxOffset = lines.length - (height - 1);
  const from = Math.min(Math.max(0, offset), maxOffset);
  const visible = height - 1 - (from > 0 ? 1 : 0);
  const end = lines.length - from;
  const start = Math.max(0, end - visible);
  return {
    lines: [
      ...(start > 0 ? [hiddenLine('above', start, focused)] : []),
      ...lines.slice(start, end),
      ...(from > 0 ? [hiddenLine('below', from, focused)] : []),
    ].slice(0, height),
    maxOffset,
  };
}

function hiddenLine(where: 'above' | 'below' | 'more', count: number, focused: boolean): ReactElement {
  const how = focused ? '↑/↓ scroll' : 'tab, then ↑/↓ to scroll';
  const text =
    where === 'above'
      ? `  ↑ ${count} earlier line(s) · ${how}`
      : where === 'below'
        ? `  ↓ ${count} later line(s) · end jumps back`
        : `  ${count} checklist line(s) hidden`;
  return (
    <Line key={`hidden.${where}`}>
      <Paint tone="muted">{text}</Paint>
    </Line>
  );
}

function hintLine(input: RunScreenInput): ReactElement {
  const { phase } = input;
  const logKeys = input.showLog ? 'l hide log · tab focus · ↑↓ PgUp PgDn scroll · end follow · / filter' : 'l show log';
  const hint =
    phase.kind === 'confirm'
      ? null
      : phase.kind === 'planning' || phase.kind === 'running'
        ? input.stopping
          ? `waiting for the engine to finish safely · ${logKeys}`
          : `Ctrl-C stops safely · ${logKeys}`
        : phase.kind === 'finished'
          ? `q ${input.backToReleases ? 'back' : 'quit'} · 2 releases · ${logKeys}`
          : `q quit · ${logKeys}`;
  if (hint === null) {
    const breaks = phase.kind === 'confirm' ? planBreaks(phase.plan) : 0;
    return (
      <Line key="hint">
        {breaks > 0 ? (
          <Paint tone="fail" bold>
            {`Deploy this? It breaks the MCP contract (${breaks}): B deploys anyway · q/n leaves with nothing changed`}
          </Paint>
        ) : (
          <Paint tone="info" bold>
            Deploy this? enter/y deploys · q/n leaves with nothing changed
          </Paint>
        )}
      </Line>
    );
  }
  return (
    <Line key="hint">
      <Paint tone="muted">{hint}</Paint>
    </Line>
  );
}
