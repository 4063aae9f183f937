import { Box, useApp, useInput, useStdin, useWindowSize } from 'ink';
import { type ReactElement, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import {
  type AppEffect,
  type AppEvent,
  type AppState,
  backToReleases,
  initialAppState,
  isSpinning,
  type Measured,
  openingEffects,
  update,
} from './app-state.js';
import { DashboardStore, overviewOf } from './dashboard-store.js';
import { layoutDashboard } from './dashboard-view.js';
import type { AppEngine, AppView } from './engine-port.js';
import { EventFeed } from './event-feed.js';
import { headerLines } from './header.js';
import { LogPane } from './log-pane.js';
import { ColorContext, Line, Paint } from './paint.js';
import { openPreferences } from './preferences.js';
import { ReleasesBrowser } from './releases-browser.js';
import { isRunning } from './run-model.js';
import { layoutRunScreen } from './run-screen.js';
import { useLogFollower } from './use-log-follower.js';
import { useTicker } from './use-ticker.js';

export type AppProps = {
  readonly engine: AppEngine;
  readonly view: AppView;
  /** For the rollback view: the release named on the command line. */
  readonly release?: string;
  readonly color: boolean;
  /** For the logs view: nginx's error log instead, and how many lines to start with. */
  readonly logs?: { readonly nginx?: boolean; readonly lines?: number };
  /** For the dashboard view: time between samples. */
  readonly dashboard?: { readonly intervalMs: number };
  readonly flushMs?: number;
  readonly spinnerMs?: number;
  readonly logCapacity?: number;
};

/**
 * The whole terminal app: one event feed, one timer, one state (app-state.ts, whose pure update
 * decides what every key and engine result does), and three screens (a run's checklist and log,
 * the releases browser, a full-screen log). It exits through `exit(code)` only, after drawing a
 * last frame that leaves the result on the terminal.
 */
export function App(props: AppProps): ReactElement {
  const { engine, view } = props;
  const { exit, waitUntilRenderFlush } = useApp();
  const { columns, rows } = useWindowSize();
  const { isRawModeSupported } = useStdin();
  const [feed] = useState(() => new EventFeed(engine.events, { flushMs: props.flushMs ?? 100, capacity: props.logCapacity ?? 2_000 }));
  const version = useSyncExternalStore(feed.subscribe, feed.getVersion);
  const preferences = useMemo(openPreferences, []);
  const follower = useLogFollower(engine, feed, props.logs);
  const [dashboard] = useState(() => new DashboardStore());
  const [sampling] = useState(() => new AbortController());
  useSyncExternalStore(dashboard.subscribe, dashboard.getVersion);
  const intervalMs = props.dashboard?.intervalMs ?? 2_000;
  const measured = useRef<Measured>({ logRows: 10, checklistMaxOffset: 0 });
  // One place for the state (app-state.ts): async callbacks read the latest, not what they closed over.
  const stateRef = useRef<AppState>(initialAppState(view, preferences.read().showLogPane));
  const [state, setState] = useState(stateRef.current);

  const send = (event: AppEvent) => {
    const [next, effects] = update(stateRef.current, event, engine.target);
    stateRef.current = next;
    setState(next);
    for (const effect of effects) carryOut(effect);
  };
  const carryOut = (effect: AppEffect) => {
    switch (effect.kind) {
      case 'start-run':
        (effect.operation === 'deploy'
          ? engine.deploy(effect.allowBreaking ? { allowBreaking: true } : undefined)
          : engine.rollback(effect.release)
        ).then(
          (summary) => send({ kind: 'run-ended', summary }),
          (error: unknown) => send({ kind: 'run-crashed', failure: engine.failure(error) }),
        );
        return;
      case 'interrupt':
        engine.interrupt();
        return;
      case 'save-show-log':
        preferences.save({ showLogPane: effect.value });
        return;
      case 'refresh-overview':
        engine.overview().then(
          (overview) => send({ kind: 'overview', overview }),
          () => {
            // The header keeps what it showed; the run's own result line already says what serves.
          },
        );
        return;
      case 'follow-log':
        follower.start(effect.onlyNew ? { lines: 0 } : {});
        return;
      case 'stop-log':
        follower.stop();
        return;
      case 'reset-run':
        feed.resetRun();
        return;
      case 'watch-status':
        engine
          .watchStatus({
            intervalMs,
            signal: sampling.signal,
            onSample: (sample) => {
              dashboard.push(sample);
              send({ kind: 'overview', overview: overviewOf(sample, engine.app) });
            },
          })
          .catch((error: unknown) => {
            if (!sampling.signal.aborted) dashboard.fail(engine.failure(error).message);
          });
        return;
    }
  };

  useEffect(() => {
    if (view === 'deploy') {
      engine.plan().then(
        (plan) => send({ kind: 'planned', plan, aborted: engine.signal.aborted }),
        (error: unknown) => send({ kind: 'plan-failed', failure: engine.failure(error), aborted: engine.signal.aborted }),
      );
    }
    for (const effect of openingEffects(view)) carryOut(effect);
    // Ctrl-C, or SIGINT/SIGTERM from outside (run-context.ts aborts the signal).
    const onAbort = () => send({ kind: 'aborted' });
    if (engine.signal.aborted) onAbort();
    else engine.signal.addEventListener('abort', onAbort, { once: true });
    return () => {
      engine.signal.removeEventListener('abort', onAbort);
      sampling.abort();
      follower.stop();
      feed.dispose();
    };
    // Runs once: the app's first move is decided by the view it was opened on.
  }, []);

  useEffect(() => {
    if (state.closing === null) return;
    follower.stop();
    sampling.abort();
    const code = state.closing;
    void waitUntilRenderFlush().then(() => exit(code));
  }, [state.closing]);

  useInput(
    (input, key) =>
      send({ kind: 'key', input, key, measured: measured.current, logEntries: () => feed.logs.entries(stateRef.current.logView.filter) }),
    { isActive: isRawModeSupported },
  );

  const { screen, phase, overview, logView, showLog, focus, closing } = state;
  // Redraws while something runs, for the elapsed times; the spinners animate themselves.
  useTicker(isSpinning(state, isRunning(feed.run)), props.spinnerMs ?? 250);
  const operation = phase.kind === 'running' ? phase.operation : view === 'deploy' && !state.runFromBrowser ? 'deploy' : 'rollback';
  const release = feed.run.release;
  const runLabel = release === null ? operation : `${operation} ${operation === 'deploy' ? 'of' : 'to'} ${release}`;
  const header = headerLines({ app: engine.app, target: engine.target, overview, screen: screen === 'run' ? runLabel : screen });
  // One row stays free: a frame as tall as the terminal makes Ink clear and redraw the screen every time.
  const height = Math.max(1, rows - 1 - header.length);
  const pane = (paneHeight: number, title: string) => (
    <LogPane
      store={feed.logs}
      version={version}
      view={logView}
      height={paneHeight}
      title={title}
      focused={screen === 'logs' || screen === 'dashboard' || focus === 'log'}
    />
  );

  let body: ReactElement;
  if (screen === 'run') {
    const layout = layoutRunScreen({
      target: engine.target,
      model: feed.run,
      phase,
      now: Date.now(),
      width: columns,
      height,
      showLog,
      focus: showLog ? focus : 'checklist',
      checklistOffset: state.checklistOffset,
      stopping: state.stopping,
      flash: state.flash,
      closing: closing !== null,
      backToReleases: backToReleases(state),
    });
    measured.current = { logRows: Math.max(1, layout.logHeight - 1), checklistMaxOffset: layout.checklistMaxOffset };
    body = (
      <>
        {layout.top}
        {layout.logHeight > 0 ? pane(layout.logHeight, phase.kind === 'finished' ? 'active server log' : 'log') : null}
        {layout.bottom}
      </>
    );
  } else if (screen === 'dashboard') {
    const footer = closing === null ? 'q quit · 2 releases · l log' : 'Stopped watching.';
    const logHeight = state.dashboardLog && closing === null ? Math.max(4, Math.floor((height - 1) * 0.4)) : 0;
    const pictures = layoutDashboard({
      samples: dashboard.samples,
      failure: dashboard.failure,
      width: columns,
      height: Math.max(1, height - 1 - logHeight),
      intervalMs,
    });
    measured.current = { logRows: Math.max(1, logHeight - 1), checklistMaxOffset: 0 };
    body = (
      <>
        {pictures.lines}
        {logHeight > 0 ? pane(logHeight, 'active server log') : null}
        <Line>
          <Paint tone="muted">{`${footer}${state.flash ? ` · ${state.flash}` : ''} · every ${intervalMs / 1000} s`}</Paint>
        </Line>
      </>
    );
  } else if (screen === 'logs') {
    const paneHeight = closing === null ? height - 1 : 0;
    measured.current = { logRows: Math.max(1, paneHeight - 1), checklistMaxOffset: 0 };
    body = (
      <>
        {paneHeight > 0 ? pane(paneHeight, props.logs?.nginx ? 'nginx error log' : 'active server log') : null}
        <Line>
          <Paint tone="muted">
            {closing === null ? 'q quit · ↑↓ PgUp PgDn scroll · end follow · / filter' : 'Stopped following the log.'}
          </Paint>
        </Line>
      </>
    );
  } else {
    body = (
      <ReleasesBrowser
        engine={engine}
        height={height}
        active={isRawModeSupported && closing === null}
        {...(view === 'rollback' && !state.runFromBrowser ? { ask: props.release ?? true } : {})}
        closing={closing !== null}
        leaveLabel={view === 'deploy' && !state.runFromBrowser ? 'back' : 'quit'}
        onRollback={(release) => send({ kind: 'browser-rollback', release })}
        onLeave={() => send({ kind: 'browser-leave' })}
        onListing={(listing) => send({ kind: 'listing', overview: listing })}
        onFailure={(failure) => send({ kind: 'listing-failed', failure })}
      />
    );
  }

  return (
    <ColorContext.Provider value={props.color}>
      <Box flexDirection="column" width={columns}>
        {header}
        {body}
      </Box>
    </ColorContext.Provider>
  );
}
