import type { Key } from 'ink';
import type { AppView, DeployPlan, Failure, HostOverview, RunSummary } from './engine-port.js';
import { isCtrlC, scrollKeyOf } from './keys.js';
import type { LogEntry } from './log-store.js';
import { editFilter, initialLogView, type LogView, scrollLog } from './log-view.js';
import { planBreaks } from './plan-view.js';
import type { RunPhase } from './run-screen.js';

/**
 * The terminal app's state as data: which screen, where the run is, what has focus, whether it
 * is stopping or closing. `update` is pure: it takes the state and what happened (a key, an
 * engine result, a signal) and returns the next state and the effects the component carries out
 * (start a run, ask the engine to stop, follow the log, save a preference). Async callbacks read
 * the latest state, not the one they closed over, because the component keeps it in one place.
 */

export type Screen = 'run' | 'releases' | 'logs' | 'dashboard';
export type Focus = 'log' | 'checklist';

export type AppState = {
  readonly view: AppView;
  readonly screen: Screen;
  readonly phase: RunPhase;
  readonly overview: HostOverview | null;
  readonly logView: LogView;
  readonly showLog: boolean;
  readonly focus: Focus;
  readonly checklistOffset: number;
  /** A stop was asked for (Ctrl-C, SIGINT/SIGTERM from outside). */
  readonly stopping: boolean;
  /** A one-line answer to a key that cannot act now. */
  readonly flash: string | null;
  /** Set once the app is leaving, with the exit code; the last frame is drawn, then it exits. */
  readonly closing: number | null;
  /** The run on screen was started from the releases browser. */
  readonly runFromBrowser: boolean;
  readonly listingLoaded: boolean;
  /** The engine is working (planning or running): a stop must go through it. */
  readonly busy: boolean;
  /** The code the app exits with when it is left after a finished run. */
  readonly exitCode: number;
  /** The dashboard's log pane (`l`) is open. */
  readonly dashboardLog: boolean;
};

export type AppEffect =
  | {
      readonly kind: 'start-run';
      readonly operation: 'deploy' | 'rollback';
      readonly release?: string;
      /** The operator confirmed the plan's breaking MCP contract changes. */
      readonly allowBreaking?: boolean;
    }
  | { readonly kind: 'interrupt' }
  | { readonly kind: 'save-show-log'; readonly value: boolean }
  | { readonly kind: 'refresh-overview' }
  /**
   * Follow the active log. After a run, only what comes next (`onlyNew`): the pane already holds
   * what the server printed during the run, and its last lines again would show twice and out of order.
   */
  | { readonly kind: 'follow-log'; readonly onlyNew?: boolean }
  | { readonly kind: 'stop-log' }
  | { readonly kind: 'reset-run' }
  /** Start sampling the host for the dashboard (runs until the app leaves). */
  | { readonly kind: 'watch-status' };

/** What the component measured in the last frame, for keys that page and scroll. */
export type Measured = { readonly logRows: number; readonly checklistMaxOffset: number };

export type AppEvent =
  | { readonly kind: 'planned'; readonly plan: DeployPlan; readonly aborted: boolean }
  | { readonly kind: 'plan-failed'; readonly failure: Failure; readonly aborted: boolean }
  | { readonly kind: 'run-ended'; readonly summary: RunSummary }
  | { readonly kind: 'run-crashed'; readonly failure: Failure }
  | { readonly kind: 'overview'; readonly overview: HostOverview }
  /** The engine's signal aborted: a stop was asked for from outside, or by our own interrupt. */
  | { readonly kind: 'aborted' }
  | {
      readonly kind: 'key';
      readonly input: string;
      readonly key: Key;
      readonly measured: Measured;
      /** The log lines the pane shows now (filtered), for scrolling. */
      readonly logEntries: () => readonly LogEntry[];
    }
  | { readonly kind: 'browser-rollback'; readonly release: string | undefined }
  | { readonly kind: 'browser-leave' }
  | { readonly kind: 'listing'; readonly overview: HostOverview }
  | { readonly kind: 'listing-failed'; readonly failure: Failure };

export type Update = readonly [AppState, readonly AppEffect[]];

const firstScreen: Record<AppView, Screen> = {
  deploy: 'run',
  rollback: 'releases',
  releases: 'releases',
  logs: 'logs',
  dashboard: 'dashboard',
};

export function initialAppState(view: AppView, showLog: boolean): AppState {
  return {
    view,
    screen: firstScreen[view],
    phase: { kind: 'planning' },
    overview: null,
    logView: initialLogView,
    showLog,
    focus: 'log',
    checklistOffset: 0,
    stopping: false,
    flash: null,
    closing: null,
    runFromBrowser: false,
    listingLoaded: false,
    busy: view === 'deploy',
    exitCode: 0,
    dashboardLog: false,
  };
}

/** The effects the app starts with, by the view it was opened on. */
export function openingEffects(view: AppView): readonly AppEffect[] {
  if (view === 'logs') return [{ kind: 'refresh-overview' }, { kind: 'follow-log' }];
  return view === 'dashboard' ? [{ kind: 'watch-status' }] : [];
}

const interruptedText = (target: string) => `■ Interrupted: nothing was changed on ${target}.`;

export function update(state: AppState, event: AppEvent, target: string): Update {
  switch (event.kind) {
    case 'planned':
      if (event.aborted) return stopped({ ...state, overview: event.plan }, interruptedText(target), 130);
      if (event.plan.nothingChanged) {
        return stopped(
          { ...state, overview: event.plan },
          `Nothing to deploy: ${event.plan.base} on ${target} already has exactly these files and requirements.`,
          0,
          'To start the same release again on the other colour: mcp-deploy restart. To deploy anyway: mcp-deploy --yes.',
        );
      }
      return [{ ...state, busy: false, overview: event.plan, phase: { kind: 'confirm', plan: event.plan } }, []];
    case 'plan-failed':
      if (event.aborted) return stopped(state, interruptedText(target), 130);
      return stopped(
        { ...state, exitCode: event.failure.exitCode },
        `✖ ${event.failure.message}`,
        event.failure.exitCode,
        event.failure.hint,
      );
    case 'run-ended': {
      const ended: AppState = {
        ...state,
        busy: false,
        exitCode: event.summary.exitCode,
        phase: { kind: 'finished', summary: event.summary },
      };
      if (state.stopping) return [close(ended, event.summary.exitCode), []];
      return [ended, [{ kind: 'refresh-overview' }, { kind: 'follow-log', onlyNew: true }]];
    }
    case 'run-crashed':
      return stopped(
        { ...state, exitCode: event.failure.exitCode },
        `✖ ${event.failure.message}`,
        event.failure.exitCode,
        event.failure.hint,
      );
    case 'overview':
      return [{ ...state, overview: event.overview }, []];
    case 'aborted': {
      const next = { ...state, stopping: true };
      // Nothing runs: there is nothing to stop safely, so the app leaves.
      return next.busy || next.closing !== null ? [next, []] : idleInterrupt(next, target);
    }
    case 'key':
      return onKey(state, event, target);
    case 'browser-rollback':
      return startRun({ ...state, runFromBrowser: true, screen: 'run' }, 'rollback', event.release, [{ kind: 'reset-run' }]);
    case 'browser-leave':
      return leaveBrowser(state);
    case 'listing':
      return [{ ...state, listingLoaded: true, overview: event.overview }, []];
    case 'listing-failed':
      if (state.view === 'deploy' || state.view === 'dashboard') return [{ ...state, listingLoaded: true }, []];
      return [close({ ...state, listingLoaded: true, exitCode: event.failure.exitCode }, event.failure.exitCode), []];
  }
}

function onKey(state: AppState, event: Extract<AppEvent, { kind: 'key' }>, target: string): Update {
  const { input, key, measured } = event;
  if (state.closing !== null) return [state, []];
  if (isCtrlC(input, key)) {
    // Raw mode turns Ctrl-C into a key: take the same safe path SIGINT would.
    if (!state.busy) return idleInterrupt(state, target);
    return [{ ...state, stopping: true }, [{ kind: 'interrupt' }]];
  }
  const logVisible =
    state.screen === 'logs' || (state.screen === 'run' && state.showLog) || (state.screen === 'dashboard' && state.dashboardLog);
  if (state.logView.editing && logVisible) return [{ ...state, logView: editFilter(state.logView, input, key) }, []];
  if (state.screen === 'releases') return [state, []]; // the browser has its own keys
  const fresh: AppState = { ...state, flash: null };
  if (fresh.screen === 'run' && fresh.phase.kind === 'confirm') {
    // Breaking MCP contract changes need their own, explicit yes: a capital B, never a reflex enter.
    const breaks = planBreaks(fresh.phase.plan);
    if (breaks > 0 && input === 'B') return startRun(fresh, 'deploy', undefined, [], true);
    if ((input === 'y' || key.return) && breaks > 0) {
      return [{ ...fresh, flash: `This release breaks the MCP contract (${breaks} breaking change(s)): B deploys anyway, q leaves.` }, []];
    }
    if (input === 'y' || key.return) return startRun(fresh, 'deploy', undefined);
    if (input === 'n' || input === 'q' || key.escape) return stopped(fresh, `Nothing changed on ${target}.`, 0);
    return [fresh, []];
  }
  if (fresh.screen === 'dashboard') return onDashboardKey(fresh, event);
  // Esc first clears a filter that is set; only then does it leave, like q.
  if (key.escape && fresh.logView.filter !== '' && logVisible) return [{ ...fresh, logView: { ...fresh.logView, filter: '' } }, []];
  if (fresh.screen === 'run') {
    if (input === 'l') {
      const showLog = !fresh.showLog;
      return [{ ...fresh, showLog, focus: showLog ? 'log' : 'checklist' }, [{ kind: 'save-show-log', value: showLog }]];
    }
    if (key.tab) return [{ ...fresh, focus: fresh.showLog && fresh.focus === 'checklist' ? 'log' : 'checklist' }, []];
    if (input === 'q' || key.escape) {
      if (fresh.phase.kind !== 'finished') return [{ ...fresh, flash: 'A run is in progress: Ctrl-C stops it safely.' }, []];
      // From the dashboard, a finished rollback goes back to the picture it changed.
      if (fresh.view === 'dashboard') return toDashboard(fresh);
      if (backToReleases(fresh)) return [{ ...fresh, screen: 'releases', listingLoaded: false }, []];
      return [close(fresh, fresh.exitCode), []];
    }
    if (input === '2' && fresh.phase.kind === 'finished') return [{ ...fresh, screen: 'releases', listingLoaded: false }, []];
  }
  if (fresh.screen === 'logs' && (input === 'q' || key.escape)) return [close(fresh, 0), []];
  if (input.startsWith('/') && logVisible) {
    // Typed fast (or pasted), "/err" arrives as one input: the rest is the start of the filter.
    const typed = input.slice(1);
    return [
      { ...fresh, focus: 'log', logView: { ...fresh.logView, editing: true, filter: typed === '' ? fresh.logView.filter : typed } },
      [],
    ];
  }
  const scroll = scrollKeyOf(input, key);
  if (scroll === null) return [fresh, []];
  if (fresh.screen === 'run' && (fresh.focus === 'checklist' || !fresh.showLog)) {
    const page = 5;
    const change = { up: 1, down: -1, pageUp: page, pageDown: -page, home: Number.MAX_SAFE_INTEGER, end: -Number.MAX_SAFE_INTEGER }[scroll];
    const checklistOffset = Math.min(measured.checklistMaxOffset, Math.max(0, fresh.checklistOffset + change));
    return [{ ...fresh, checklistOffset }, []];
  }
  return [{ ...fresh, logView: scrollLog(fresh.logView, scroll, event.logEntries(), measured.logRows) }, []];
}

/**
 * Whether `q` on a finished run goes back to the releases browser: after a rollback started
 * there, so the operator sees the new state, unless the app was opened as `rollback`.
 */
export function backToReleases(state: AppState): boolean {
  return state.runFromBrowser && state.view !== 'rollback';
}

/**
 * Leaving the browser. Opened from a deploy's finished run, it goes back to that run, unless the
 * run on screen is a rollback started from the browser itself: going "back" to it would only
 * bring `q` back here (the loop operators hit), so the app leaves instead.
 */
function leaveBrowser(state: AppState): Update {
  if (state.view === 'dashboard') return toDashboard(state);
  if (state.view === 'deploy' && !state.runFromBrowser) return [{ ...state, screen: 'run' }, []];
  return [close(state, state.exitCode), []];
}

/**
 * The dashboard's keys: q (or Esc) quits, 2 opens the releases browser (a rollback from there runs
 * as in the deploy app and comes back here), l opens and closes the log pane under the pictures.
 */
function onDashboardKey(state: AppState, event: Extract<AppEvent, { kind: 'key' }>): Update {
  const { input, key } = event;
  // Keys typed quickly arrive as one input ("l2"): each is a key of its own here.
  if (input.length > 1 && !input.startsWith('/') && !state.logView.editing) {
    let current: Update = [state, []];
    for (const character of input) {
      if (current[0].screen !== 'dashboard' || current[0].closing !== null) break;
      const [next, effects] = onDashboardKey(current[0], { ...event, input: character });
      current = [next, [...current[1], ...effects]];
    }
    return current;
  }
  const logVisible = state.dashboardLog;
  if (key.escape && state.logView.filter !== '' && logVisible) return [{ ...state, logView: { ...state.logView, filter: '' } }, []];
  if (input === 'q' || key.escape) return [close(state, 0), []];
  if (input === '2') return [{ ...state, screen: 'releases', listingLoaded: false }, state.dashboardLog ? [{ kind: 'stop-log' }] : []];
  if (input === 'l') {
    const open = !state.dashboardLog;
    return [{ ...state, dashboardLog: open, focus: 'log' }, [open ? { kind: 'follow-log' } : { kind: 'stop-log' }]];
  }
  if (input.startsWith('/') && logVisible) {
    const typed = input.slice(1);
    return [{ ...state, logView: { ...state.logView, editing: true, filter: typed === '' ? state.logView.filter : typed } }, []];
  }
  const scroll = scrollKeyOf(input, key);
  if (scroll !== null && logVisible)
    return [{ ...state, logView: scrollLog(state.logView, scroll, event.logEntries(), event.measured.logRows) }, []];
  return [state, []];
}

function toDashboard(state: AppState): Update {
  return [
    { ...state, screen: 'dashboard', runFromBrowser: false },
    [state.dashboardLog ? { kind: 'follow-log', onlyNew: true } : { kind: 'stop-log' }],
  ];
}

function startRun(
  state: AppState,
  operation: 'deploy' | 'rollback',
  release: string | undefined,
  before: readonly AppEffect[] = [],
  allowBreaking = false,
): Update {
  const start: AppEffect = { kind: 'start-run', operation, ...(release ? { release } : {}), ...(allowBreaking ? { allowBreaking } : {}) };
  return [{ ...state, busy: true, phase: { kind: 'running', operation }, checklistOffset: 0 }, [...before, { kind: 'stop-log' }, start]];
}

/** Ctrl-C or a signal while nothing runs: at the plan nothing changed (130); elsewhere the app leaves with its code. */
function idleInterrupt(state: AppState, target: string): Update {
  if (state.screen === 'run' && state.phase.kind === 'confirm') return stopped(state, interruptedText(target), 130);
  return [close(state, state.exitCode), []];
}

function stopped(state: AppState, text: string, code: number, hint?: string): Update {
  const tone = code === 0 ? 'ok' : code === 130 ? 'warn' : 'fail';
  return [close({ ...state, busy: false, phase: { kind: 'stopped', outcome: { tone, text, ...(hint ? { hint } : {}) } } }, code), []];
}

function close(state: AppState, code: number): AppState {
  return state.closing === null ? { ...state, closing: code } : state;
}

/** Whether a spinner or an elapsed time is on screen: the one ticker runs only then. */
export function isSpinning(state: AppState, running: boolean): boolean {
  if (state.closing !== null) return false;
  if (state.screen === 'run') return state.phase.kind === 'planning' || state.phase.kind === 'running' || running;
  return state.screen === 'releases' && !state.listingLoaded;
}
