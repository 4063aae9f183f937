import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { type AppEvent, type AppState, initialAppState, update } from '../../source/ui/app-state.js';
import { samplePlan, successSummary } from '../ui/fake-engine.js';

const target = 'prod';
const noKey: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

function key(input: string, pressed: Partial<Key> = {}): AppEvent {
  return { kind: 'key', input, key: { ...noKey, ...pressed }, measured: { logRows: 10, checklistMaxOffset: 3 }, logEntries: () => [] };
}

/** Feeds events in order; returns the last state and every effect asked for on the way. */
function play(state: AppState, ...events: AppEvent[]) {
  const effects = [];
  let current = state;
  for (const event of events) {
    const [next, asked] = update(current, event, target);
    current = next;
    effects.push(...asked);
  }
  return { state: current, effects };
}

const planned: AppEvent = { kind: 'planned', plan: samplePlan(), aborted: false };

describe('the app state', () => {
  it('confirms the plan with y: the run starts and the log follower stops', () => {
    const { state, effects } = play(initialAppState('deploy', true), planned, key('y'));
    expect(state.phase).toEqual({ kind: 'running', operation: 'deploy' });
    expect(state.busy).toBe(true);
    expect(effects).toEqual([{ kind: 'stop-log' }, { kind: 'start-run', operation: 'deploy' }]);
  });

  it('says so and does not ask when the plan changes nothing', () => {
    const unchanged: AppEvent = { kind: 'planned', plan: samplePlan({ nothingChanged: true }), aborted: false };
    const { state, effects } = play(initialAppState('deploy', true), unchanged);
    expect(state.closing).toBe(0);
    expect(state.phase).toMatchObject({ kind: 'stopped', outcome: { tone: 'ok', text: expect.stringContaining('Nothing to deploy') } });
    expect(effects).toEqual([]);
  });

  it('leaves the plan on q with nothing changed and exit 0', () => {
    const { state, effects } = play(initialAppState('deploy', true), planned, key('q'));
    expect(state.closing).toBe(0);
    expect(state.phase).toMatchObject({ kind: 'stopped', outcome: { text: 'Nothing changed on prod.' } });
    expect(effects).toEqual([]);
  });

  it('during a run turns Ctrl-C into a request to the engine, and q into a flash', () => {
    const running = play(initialAppState('deploy', true), planned, key('y')).state;
    const ctrlC = play(running, key('c', { ctrl: true }));
    expect(ctrlC.effects).toEqual([{ kind: 'interrupt' }]);
    expect(ctrlC.state.stopping).toBe(true);
    expect(ctrlC.state.closing).toBeNull();
    const q = play(running, key('q'));
    expect(q.state.flash).toBe('A run is in progress: Ctrl-C stops it safely.');
    expect(q.state.closing).toBeNull();
  });

  it('closes with the run’s code when the run ends after a stop was asked for', () => {
    const running = play(initialAppState('deploy', true), planned, key('y'), { kind: 'aborted' }).state;
    const summary = { ...successSummary(), ok: false, exitCode: 130 };
    const { state, effects } = play(running, { kind: 'run-ended', summary });
    expect(state.closing).toBe(130);
    expect(effects).toEqual([]);
  });

  it('treats a signal at the plan as an interruption: nothing changed, exit 130', () => {
    const { state } = play(initialAppState('deploy', true), planned, { kind: 'aborted' });
    expect(state.closing).toBe(130);
    expect(state.phase).toMatchObject({ kind: 'stopped', outcome: { tone: 'warn', text: '■ Interrupted: nothing was changed on prod.' } });
  });

  it('after a finished run follows the log and refreshes the header, and q leaves with the run’s code', () => {
    const running = play(initialAppState('deploy', true), planned, key('y')).state;
    const ended = play(running, { kind: 'run-ended', summary: successSummary() });
    expect(ended.effects).toEqual([{ kind: 'refresh-overview' }, { kind: 'follow-log', onlyNew: true }]);
    expect(play(ended.state, key('q')).state.closing).toBe(0);
  });

  it('never loops on q after a rollback from the releases browser: back to the browser once, then out', () => {
    // Given a finished deploy, the browser opened with 2, and a rollback started there
    const deployed = play(initialAppState('deploy', true), planned, key('y'), { kind: 'run-ended', summary: successSummary() }).state;
    const browsing = play(deployed, key('2')).state;
    expect(browsing.screen).toBe('releases');
    const rolledBack = play(browsing, { kind: 'browser-rollback', release: undefined }, { kind: 'run-ended', summary: successSummary() });
    expect(rolledBack.effects).toContainEqual({ kind: 'reset-run' });
    expect(rolledBack.state.screen).toBe('run');

    // When q is pressed on the rollback's result, then q (leave) in the browser
    const back = play(rolledBack.state, key('q')).state;
    expect(back.screen).toBe('releases');
    const out = play(back, { kind: 'browser-leave' }).state;

    // Then the app leaves instead of going back to the run screen
    expect(out.closing).toBe(0);
  });

  it('goes back from the browser to the deploy it was opened from', () => {
    const deployed = play(initialAppState('deploy', true), planned, key('y'), { kind: 'run-ended', summary: successSummary() }).state;
    const { state } = play(deployed, key('2'), { kind: 'browser-leave' });
    expect(state.screen).toBe('run');
    expect(state.closing).toBeNull();
  });

  it('clears a log filter on Esc before Esc leaves', () => {
    const logs = initialAppState('logs', true);
    const filtered = play(logs, key('/err'), key('', { return: true })).state;
    expect(filtered.logView).toMatchObject({ filter: 'err', editing: false });
    const cleared = play(filtered, key('', { escape: true })).state;
    expect(cleared.logView.filter).toBe('');
    expect(cleared.closing).toBeNull();
    expect(play(cleared, key('', { escape: true })).state.closing).toBe(0);
  });

  it('toggles the log pane with l and asks to remember it', () => {
    const finished = play(initialAppState('deploy', true), planned, key('y'), { kind: 'run-ended', summary: successSummary() }).state;
    const { state, effects } = play(finished, key('l'));
    expect(state.showLog).toBe(false);
    expect(state.focus).toBe('checklist');
    expect(effects).toEqual([{ kind: 'save-show-log', value: false }]);
  });

  it('scrolls the checklist within what the last frame measured', () => {
    const finished = play(initialAppState('deploy', false), planned, key('y'), { kind: 'run-ended', summary: successSummary() }).state;
    const { state } = play(finished, key('', { pageUp: true }));
    expect(state.checklistOffset).toBe(3);
  });

  it('in the deploy view survives a releases listing that failed; elsewhere it leaves with the failure’s code', () => {
    const failure = { exitCode: 3, message: 'unreachable' };
    expect(play(initialAppState('deploy', true), { kind: 'listing-failed', failure }).state.closing).toBeNull();
    expect(play(initialAppState('releases', true), { kind: 'listing-failed', failure }).state.closing).toBe(3);
  });
});
