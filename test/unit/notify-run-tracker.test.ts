import { describe, expect, it } from 'vitest';
import { deploySteps } from '../../source/engine/declared-steps.js';
import { validateSteps } from '../../source/validate/run-validate.js';
import type { NotifyEvent } from '../../source/config/schema.js';
import type { EngineEvent } from '../../source/run/events.js';
import { createRunTracker } from '../../source/notify/run-tracker.js';
import type { Notification } from '../../source/notify/notification.js';
import { at, deployRolledBack, newRelease, oldRelease, operatorRollback, step, successfulDeploy } from '../fixtures/recorded-runs.js';

/** Which engine events become which notifications, and why one run never says two things. */

const allKinds: NotifyEvent[] = ['start', 'success', 'failure', 'rollback'];

function feed(events: readonly EngineEvent[], on: readonly NotifyEvent[] = allKinds): Notification[] {
  const tracker = createRunTracker({ app: 'ontology', operator: 'alice', localHost: 'laptop', on, now: () => new Date(at) });
  return [...events.flatMap((event) => tracker.observe(event)), ...tracker.close()];
}

describe('notify: which events become messages', () => {
  it('Given a successful deploy, sends one start and one success, with the facts of the run', () => {
    const sent = feed(successfulDeploy());
    expect(sent.map((n) => n.event)).toEqual(['start', 'success']);
    expect(sent[0]).toMatchObject({
      operation: 'deploy',
      app: 'ontology',
      target: 'production',
      release: newRelease,
      previous: oldRelease,
      ok: null,
      durationMs: null,
    });
    expect(sent[1]).toMatchObject({
      ok: true,
      rolledBack: false,
      durationMs: 42_100,
      error: null,
      serving: `release ${newRelease}`,
      operator: 'alice',
      localHost: 'laptop',
      at: new Date(at).toISOString(),
    });
  });

  it('Given a deploy that failed and was rolled back automatically, sends one failure that tells of the rollback, not a second message', () => {
    const sent = feed(deployRolledBack());
    expect(sent.map((n) => n.event)).toEqual(['start', 'failure']);
    expect(sent[1]).toMatchObject({
      ok: false,
      rolledBack: true,
      rollback: { phase: 'done', reason: 'health failed' },
      error: { step: 'health', message: 'GET /health answered 503' },
      serving: `release ${oldRelease} on blue (port 5002)`,
    });
  });

  it('Given on lists rollback but not failure, the same automatic rollback is sent once, as a rollback', () => {
    const sent = feed(deployRolledBack(), ['rollback']);
    expect(sent.map((n) => n.event)).toEqual(['rollback']);
    expect(sent[0]).toMatchObject({ ok: false, rolledBack: true, error: { step: 'health' } });
  });

  it('Given an automatic rollback that failed, the failure carries that too', () => {
    const sent = feed(deployRolledBack({ phase: 'failed' }));
    expect(sent.map((n) => n.event)).toEqual(['start', 'failure']);
    expect(sent[1]?.rollback).toEqual({ phase: 'failed', reason: 'stopping green failed: kill failed' });
  });

  it('Given an operator rollback, sends a start and one rollback message, not also a success', () => {
    const sent = feed(operatorRollback());
    expect(sent.map((n) => n.event)).toEqual(['start', 'rollback']);
    expect(sent[1]).toMatchObject({
      operation: 'rollback',
      ok: true,
      release: oldRelease,
      previous: newRelease,
      rolledBack: false,
      serving: `release ${oldRelease}`,
    });
  });

  it('Given on lists success but not rollback, an operator rollback is still told, as a success', () => {
    expect(feed(operatorRollback(), ['success']).map((n) => n.event)).toEqual(['success']);
  });

  it('Given on lists only failure, a successful deploy sends nothing', () => {
    expect(feed(successfulDeploy(), ['failure'])).toEqual([]);
  });

  it('Given a contract event during the run, the outcome message carries its summary line, the start message none', () => {
    const events = successfulDeploy();
    const summary = 'MCP contract: 0 breaking, 1 risky, 2 safe change(s); now 3 tool(s), 0 prompt(s), 0 resource(s)';
    const contract: EngineEvent = { kind: 'contract', against: oldRelease, summary, changes: [] };
    const sent = feed([...events.slice(0, -1), contract, ...events.slice(-1)]);
    expect(sent.map((n) => [n.event, n.contract])).toEqual([
      ['start', null],
      ['success', summary],
    ]);
  });

  it('Given a deploy refused before a release was chosen, sends a failure but no start', () => {
    const sent = feed([
      { kind: 'run:start', operation: 'deploy', target: 'production', at, steps: deploySteps({}, { validate: false }) },
      ...step('connect', 'the host is locked by bob'),
      {
        kind: 'run:end',
        ok: false,
        ms: 800,
        release: null,
        previous: null,
        rolledBack: false,
        error: { step: 'connect', message: 'the host is locked by bob' },
      },
    ]);
    expect(sent.map((n) => n.event)).toEqual(['failure']);
    expect(sent[0]).toMatchObject({ release: null, rolledBack: false, rollback: null, error: { step: 'connect' } });
  });

  it('Given a failure after the new release went live (prune), says the new release serves', () => {
    const events = successfulDeploy().slice(0, -3);
    const sent = feed([
      ...events,
      ...step('prune', 'rm: permission denied'),
      {
        kind: 'run:end',
        ok: false,
        ms: 40_000,
        release: newRelease,
        previous: oldRelease,
        rolledBack: false,
        error: { step: 'prune', message: 'rm: permission denied' },
      },
    ]);
    expect(sent[1]).toMatchObject({ event: 'failure', serving: `release ${newRelease}` });
  });

  it('Given a failure before cutover, says the previous release still serves', () => {
    const sent = feed([
      { kind: 'run:start', operation: 'deploy', target: 'production', at, steps: deploySteps({}, { validate: false }) },
      { kind: 'release', release: newRelease, previous: oldRelease },
      ...step('upload', 'disk full'),
      {
        kind: 'run:end',
        ok: false,
        ms: 4_000,
        release: newRelease,
        previous: oldRelease,
        rolledBack: false,
        error: { step: 'upload', message: 'disk full' },
      },
    ]);
    expect(sent[1]).toMatchObject({ event: 'failure', serving: `release ${oldRelease}` });
  });

  it('Given a release event repeated, announces the run once', () => {
    const events = successfulDeploy();
    const release = events.find((event) => event.kind === 'release')!;
    expect(feed([...events.slice(0, 4), release, ...events.slice(4)]).map((n) => n.event)).toEqual(['start', 'success']);
  });

  it('Given runs that are not deploys or rollbacks (validate, status), sends nothing', () => {
    const sent = feed([
      { kind: 'run:start', operation: 'validate', target: null, at, steps: validateSteps },
      ...step('validate.files'),
      { kind: 'run:end', ok: false, ms: 10 },
      { kind: 'run:start', operation: 'status', target: 'production', at, steps: [] },
      { kind: 'run:end', ok: true, ms: 10 },
    ]);
    expect(sent).toEqual([]);
  });

  it('Given a run that never reported its end, closing it sends a failure at the last step, not knowing what serves', () => {
    const events = deployRolledBack().slice(0, 9);
    const tracker = createRunTracker({
      app: 'ontology',
      operator: 'alice',
      localHost: 'laptop',
      on: allKinds,
      now: () => new Date(at + 5_000),
    });
    const sent = events.flatMap((event) => tracker.observe(event));
    const closed = tracker.close();
    expect(sent.map((n) => n.event)).toEqual(['start']);
    expect(closed).toHaveLength(1);
    expect(closed[0]).toMatchObject({
      event: 'failure',
      ok: false,
      durationMs: 5_000,
      error: { step: 'health', message: 'the run stopped without reporting its outcome' },
      serving: null,
    });
    expect(tracker.close()).toEqual([]);
  });

  it('Given two runs on one bus, each is told on its own', () => {
    expect(feed([...successfulDeploy(), ...operatorRollback()]).map((n) => n.event)).toEqual(['start', 'success', 'start', 'rollback']);
  });
});
