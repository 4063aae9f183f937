import { Box, useApp, useInput, useStdin, useWindowSize } from 'ink';
import { openPreferences } from './preferences.js';
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore, type ReactElement } from 'react';
import type { RunSummary } from './engine-port.js';
import type { HostOverview } from './engine-port.js';
import type { AppEngine, AppView } from './engine-port.js';
import { EventFeed } from './event-feed.js';
import { headerLines } from './header.js';
import { isCtrlC, scrollKeyOf } from './keys.js';
import { LogPane } from './log-pane.js';
import { editFilter, initialLogView, scrollLog, type LogView } from './log-view.js';
import { ColorContext, Line, Paint } from './paint.js';
import { ReleasesBrowser } from './releases-browser.js';
import { planBreaks } from './plan-view.js';
import { isRunning } from './run-model.js';
import { layoutRunScreen, type RunPhase } from './run-screen.js';
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
  readonly flushMs?: number;
  readonly spinnerMs?: number;
  readonly logCapacity?: number;
};

type Screen = 'run' | 'releases' | 'logs';

const firstScreen: Record<AppView, Screen> = { deploy: 'run', rollback: 'releases', releases: 'releases', logs: 'logs' };

/**
 * The whole terminal app: one event feed, one timer, one key handler, and three screens (a run's
 * checklist and log, the releases browser, a full-screen log). It exits through `exit(code)` only,
 * after drawing a last frame that leaves the result on the terminal.
 */
export function App(props: AppProps): ReactElement {
  const { engine, view } = props;
  const { exit, waitUntilRenderFlush } = useApp();
  const { columns, rows } = useWindowSize();
  const { isRawModeSupported } = useStdin();
  const [feed] = useState(() => new EventFeed(engine.events, { flushMs: props.flushMs ?? 100, capacity: props.logCapacity ?? 2_000 }));
  const version = useSyncExternalStore(feed.subscribe, feed.getVersion);
  const [screen, setScreen] = useState<Screen>(firstScreen[view]);
  const [phase, setPhase] = useState<RunPhase>({ kind: 'planning' });
  const [overview, setOverview] = useState<HostOverview | null>(null);
  const [logView, setLogView] = useState<LogView>(initialLogView);
  const preferences = useMemo(openPreferences, []);
  const [showLog, setShowLog] = useState(() => preferences.read().showLogPane);
  const [focus, setFocus] = useState<'log' | 'checklist'>('log');
  const [checklistOffset, setChecklistOffset] = useState(0);
  const [stopping, setStopping] = useState(false);
  const [flash, setFlash] = useState<string | null>(null);
  const [closing, setClosing] = useState<number | null>(null);
  const [runFromBrowser, setRunFromBrowser] = useState(false);
  const [listingLoaded, setListingLoaded] = useState(false);
  // Read from async callbacks, which must see the latest value rather than the one they closed over.
  const busy = useRef(view === 'deploy');
  const stoppingRef = useRef(false);
  const exitCode = useRef(0);
  const follower = useLogFollower(engine, feed, props.logs);
  const measured = useRef({ logRows: 10, checklistMaxOffset: 0 });

  const close = useCallback((code: number) => setClosing((current) => current ?? code), []);
  const stopped = (text: string, code: number, hint?: string) => {
    busy.current = false;
    setPhase({ kind: 'stopped', outcome: { tone: code === 0 ? 'ok' : code === 130 ? 'warn' : 'fail', text, ...(hint ? { hint } : {}) } });
    close(code);
  };

  const refreshOverview = () => {
    engine.overview().then(setOverview, () => {
      // The header keeps what it showed; the run's own result line already says what serves.
    });
  };

  const runEnded = (summary: RunSummary) => {
    busy.current = false;
    exitCode.current = summary.exitCode;
    setPhase({ kind: 'finished', summary });
    if (stoppingRef.current) return close(summary.exitCode);
    refreshOverview();
    follower.start();
  };
  const runCrashed = (error: unknown) => {
    const failure = engine.failure(error);
    exitCode.current = failure.exitCode;
    stopped(`✖ ${failure.message}`, failure.exitCode, failure.hint);
  };
  const startRun = (operation: 'deploy' | 'rollback', release?: string, allowBreaking = false) => {
    busy.current = true;
    follower.stop();
    setPhase({ kind: 'running', operation });
    setChecklistOffset(0);
    (operation === 'deploy' ? engine.deploy(allowBreaking ? { allowBreaking } : undefined) : engine.rollback(release)).then(
      runEnded,
      runCrashed,
    );
  };

  useEffect(() => {
    if (view === 'deploy') {
      engine.plan().then(
        (plan) => {
          busy.current = false;
          setOverview(plan);
          if (engine.signal.aborted) stopped(`■ Interrupted: nothing was changed on ${engine.target}.`, 130);
          else setPhase({ kind: 'confirm', plan });
        },
        (error: unknown) => {
          if (engine.signal.aborted) return stopped(`■ Interrupted: nothing was changed on ${engine.target}.`, 130);
          const failure = engine.failure(error);
          stopped(`✖ ${failure.message}`, failure.exitCode, failure.hint);
        },
      );
    } else if (view === 'logs') {
      refreshOverview();
      follower.start();
    }
    return () => {
      follower.stop();
      feed.dispose();
    };
    // Runs once: the app's first move is decided by the view it was opened on.
  }, []);

  // Ctrl-C, or SIGINT/SIGTERM from outside (run-context.ts aborts the signal), while nothing runs:
  // there is nothing to stop safely, so the app leaves.
  const idleInterrupt = () => {
    if (screen === 'run' && phase.kind === 'confirm') stopped(`■ Interrupted: nothing was changed on ${engine.target}.`, 130);
    else close(exitCode.current);
  };
  useEffect(() => {
    const onAbort = () => {
      stoppingRef.current = true;
      setStopping(true);
    };
    if (engine.signal.aborted) onAbort();
    engine.signal.addEventListener('abort', onAbort, { once: true });
    return () => engine.signal.removeEventListener('abort', onAbort);
  }, [engine]);
  useEffect(() => {
    if (stopping && !busy.current && closing === null) idleInterrupt();
  }, [stopping]);

  useEffect(() => {
    if (closing === null) return;
    follower.stop();
    void waitUntilRenderFlush().then(() => exit(closing));
  }, [closing]);

  useInput(
    (input, key) => {
      if (closing !== null) return;
      if (isCtrlC(input, key)) {
        // Raw mode turns Ctrl-C into a key: take the same safe path SIGINT would.
        if (!busy.current) return idleInterrupt();
        stoppingRef.current = true;
        setStopping(true);
        engine.interrupt();
        return;
      }
      const logVisible = screen === 'logs' || (screen === 'run' && showLog);
      if (logView.editing && logVisible) return setLogView((current) => editFilter(current, input, key));
      if (screen === 'releases') return; // the browser has its own keys
      setFlash(null);
      if (screen === 'run' && phase.kind === 'confirm') {
        // Breaking MCP contract changes need their own, explicit yes: a capital B, never a reflex enter.
        const breaks = planBreaks(phase.plan);
        if (breaks > 0 && input === 'B') startRun('deploy', undefined, true);
        else if (input === 'y' || key.return) {
          if (breaks === 0) startRun('deploy');
          else setFlash(`This release breaks the MCP contract (${breaks} breaking change(s)): B deploys anyway, q leaves.`);
        } else if (input === 'n' || input === 'q' || key.escape) stopped(`Nothing changed on ${engine.target}.`, 0);
        return;
      }
      if (screen === 'run') {
        if (input === 'l') {
          setShowLog(!showLog);
          preferences.save({ showLogPane: !showLog });
          setFocus(showLog ? 'checklist' : 'log');
          return;
        }
        if (key.tab) return setFocus(showLog && focus === 'checklist' ? 'log' : 'checklist');
        if (input === 'q' || key.escape) {
          if (phase.kind !== 'finished') return setFlash('A run is in progress: Ctrl-C stops it safely.');
          if (runFromBrowser && view !== 'rollback') return setScreen('releases');
          return close(exitCode.current);
        }
        if (input === '2' && phase.kind === 'finished') {
          setListingLoaded(false);
          return setScreen('releases');
        }
      }
      if (screen === 'logs' && (input === 'q' || key.escape)) return close(0);
      if (input.startsWith('/') && logVisible) {
        // Typed fast (or pasted), "/err" arrives as one input: the rest is the start of the filter.
        const typed = input.slice(1);
        setFocus('log');
        return setLogView((current) => ({ ...current, editing: true, filter: typed === '' ? current.filter : typed }));
      }
      const scroll = scrollKeyOf(input, key);
      if (scroll === null) return;
      if (screen === 'run' && (focus === 'checklist' || !showLog)) {
        const page = 5;
        const change = { up: 1, down: -1, pageUp: page, pageDown: -page, home: Number.MAX_SAFE_INTEGER, end: -Number.MAX_SAFE_INTEGER }[
          scroll
        ];
        setChecklistOffset((offset) => Math.min(measured.current.checklistMaxOffset, Math.max(0, offset + change)));
      } else {
        setLogView((current) => scrollLog(current, scroll, feed.logs.entries(current.filter), measured.current.logRows));
      }
    },
    { isActive: isRawModeSupported },
  );

  const spinning =
    (screen === 'run' && (phase.kind === 'planning' || phase.kind === 'running' || isRunning(feed.run))) ||
    (screen === 'releases' && !listingLoaded);
  const tick = useTicker(spinning && closing === null, props.spinnerMs ?? 100);
  const operation = phase.kind === 'running' ? phase.operation : view === 'deploy' && !runFromBrowser ? 'deploy' : 'rollback';
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
      focused={screen === 'logs' || focus === 'log'}
    />
  );

  let body: ReactElement;
  if (screen === 'run') {
    const layout = layoutRunScreen({
      target: engine.target,
      model: feed.run,
      phase,
      tick,
      now: Date.now(),
      width: columns,
      height,
      showLog,
      focus: showLog ? focus : 'checklist',
      checklistOffset,
      stopping,
      flash,
      closing: closing !== null,
      backToReleases: runFromBrowser && view !== 'rollback',
    });
    measured.current = { logRows: Math.max(1, layout.logHeight - 1), checklistMaxOffset: layout.checklistMaxOffset };
    body = (
      <>
        {layout.top}
        {layout.logHeight > 0 ? pane(layout.logHeight, phase.kind === 'finished' ? 'active server log' : 'log') : null}
        {layout.bottom}
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
        tick={tick}
        active={isRawModeSupported && closing === null}
        {...(view === 'rollback' && !runFromBrowser ? { ask: props.release ?? true } : {})}
        closing={closing !== null}
        leaveLabel={view === 'deploy' ? 'back' : 'quit'}
        onRollback={(release) => {
          feed.resetRun();
          setRunFromBrowser(true);
          setScreen('run');
          startRun('rollback', release);
        }}
        onLeave={() => (view === 'deploy' ? setScreen('run') : close(exitCode.current))}
        onListing={(listing) => {
          setListingLoaded(true);
          setOverview(listing);
        }}
        onFailure={(failure) => {
          setListingLoaded(true);
          if (view !== 'deploy') {
            exitCode.current = failure.exitCode;
            close(failure.exitCode);
          }
        }}
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
