import { EventBus, type EngineEvent } from '../../source/run/events.js';
import { deploySteps } from '../../source/engine/declared-steps.js';
import type { StepId } from '../../source/run/step-ids.js';
import type { RunSummary } from '../../source/engine/deploy.js';
import type { ReleaseRow } from '../../source/engine/inspect.js';
import type { DeployPlan, HostOverview } from '../../source/engine/plan.js';
import { DeployError, isDeployError } from '../../source/errors.js';
import type { AppEngine, FollowRequest, ReleasesListing, StatusSample } from '../../source/ui/engine-port.js';

/**
 * A test double of the engine as the app sees it: it records calls, and each operation replays
 * a recorded event sequence on a real EventBus before resolving with its summary.
 */
export type FakeEngine = AppEngine & {
  readonly bus: EventBus;
  readonly calls: {
    plan: number;
    deploy: number;
    allowBreaking: boolean[];
    rollback: (string | undefined)[];
    interrupt: number;
    follow: FollowRequest[];
    watch: number;
  };
  readonly controller: AbortController;
};

export type FakeScript = {
  readonly plan?: DeployPlan | Error;
  readonly deploy?: { readonly events: readonly EngineEvent[]; readonly summary: RunSummary };
  readonly rollback?: { readonly events: readonly EngineEvent[]; readonly summary: RunSummary };
  readonly releases?: ReleasesListing;
  /** Lines the followed log prints at once. */
  readonly followLines?: readonly string[];
  /** Hold the deploy open until the test releases it (for Ctrl-C tests). */
  readonly deployGate?: Promise<void>;
  /** Samples the dashboard receives, one per `watchStatus` tick (then it waits for the abort). */
  readonly samples?: readonly StatusSample[];
};

export function fakeEngine(script: FakeScript): FakeEngine {
  const bus = new EventBus();
  const controller = new AbortController();
  const calls: FakeEngine['calls'] = { plan: 0, deploy: 0, allowBreaking: [], rollback: [], interrupt: 0, follow: [], watch: 0 };
  const replay = async (events: readonly EngineEvent[]) => {
    for (const event of events) {
      bus.emit(event);
      await Promise.resolve();
    }
  };
  return {
    bus,
    calls,
    controller,
    app: 'demo-mcp',
    target: 'prod',
    events: bus,
    signal: controller.signal,
    interrupt: () => {
      calls.interrupt += 1;
      if (!controller.signal.aborted) {
        bus.emit({ kind: 'notice', level: 'warn', message: 'Ctrl-C: stopping safely — rolling back what must be and releasing the lock…' });
        controller.abort(new Error('interrupted'));
      } else bus.emit({ kind: 'notice', level: 'warn', message: 'Still stopping safely; please wait.' });
    },
    plan: async () => {
      calls.plan += 1;
      if (script.plan instanceof Error) throw script.plan;
      return script.plan ?? samplePlan();
    },
    deploy: async (choice) => {
      calls.deploy += 1;
      calls.allowBreaking.push(choice?.allowBreaking ?? false);
      const run = script.deploy ?? { events: successEvents(), summary: successSummary() };
      await replay(run.events);
      await script.deployGate;
      return run.summary;
    },
    rollback: async (release) => {
      calls.rollback.push(release);
      const run = script.rollback ?? { events: [], summary: { ...successSummary(), operation: 'rollback', release: release ?? null } };
      await replay(run.events);
      return run.summary;
    },
    overview: async (): Promise<HostOverview> => sampleOverview(),
    releases: async () => script.releases ?? sampleListing(),
    followLog: async (request) => {
      calls.follow.push(request);
      for (const line of script.followLines ?? []) request.onLine(line, 'server');
      await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
    },
    watchStatus: async (request) => {
      calls.watch += 1;
      for (const sample of script.samples ?? []) {
        if (request.signal.aborted) return;
        request.onSample(sample);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve(), { once: true }));
    },
    failure: (error) =>
      isDeployError(error)
        ? { exitCode: error.exitCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) }
        : { exitCode: 70, message: String(error) },
  };
}

export const activeRelease = '20261124T101500Z-abc1234';
export const newRelease = '20261125T090000Z-def5678';

export function sampleOverview(): HostOverview {
  return {
    host: 'deploy@example.org:22',
    state: {
      version: 1,
      app: 'demo-mcp',
      active: { colour: 'blue', port: 5001, release: activeRelease },
      previous: '20261120T080000Z-0a0a0a0',
      updatedAt: '2026-11-24T10:15:00Z',
    },
    lock: { held: false },
  };
}

export function samplePlan(overrides: Partial<DeployPlan> = {}): DeployPlan {
  return {
    ...sampleOverview(),
    nothingChanged: false,
    target: 'prod',
    base: activeRelease,
    baseHasManifest: true,
    files: { total: 46, added: 3, changed: 2, removed: 1, unchanged: 40 },
    bytes: { total: 1_250_000, upload: 12_600 },
    requirements: {
      kind: 'venv',
      hash: 'a'.repeat(64),
      activeHash: 'a'.repeat(64),
      changed: false,
      why: 'pip install -r requirements.txt: the host has no uv',
      problem: null,
      node: null,
    },
    tools: { active: ['search', 'fetch_doc'], next: ['search', 'summarize'], appearing: ['summarize'], disappearing: ['fetch_doc'] },
    contract: { active: null, next: null, diff: null },
    sessions: { pinned: true, colour: 'blue', active: 2, idleSeconds: 30, maxSeconds: 60 },
    ...overrides,
  };
}

const at = 1_760_000_000_000;

function step(id: StepId, title: string, ms: number, detail?: string): EngineEvent[] {
  return [
    { kind: 'step:start', step: id, title, at },
    { kind: 'step:done', step: id, ms, ...(detail ? { detail } : {}) },
  ];
}

export function successEvents(): EngineEvent[] {
  return [
    { kind: 'run:start', operation: 'deploy', target: 'prod', at, steps: deploySteps({}, { validate: false }) },
    ...step('prepare', 'Hash the release files', 40, '46 files'),
    ...step('connect', 'Connect to prod and take the lock', 300, `deploy@example.org:22; ${activeRelease} serves on blue (5001)`),
    { kind: 'step:start', step: 'upload', title: `Upload release ${newRelease}`, at },
    { kind: 'step:progress', step: 'upload', done: 6_300, total: 12_600, unit: 'bytes', detail: '2/5 files' },
    { kind: 'step:done', step: 'upload', ms: 800, detail: '5 file(s) sent, 12.3 kB; 41 unchanged linked; +3 ~2 -1' },
    { kind: 'step:skipped', step: 'install', title: 'Install dependencies', reason: 'no runtime.requirements' },
    { kind: 'step:start', step: 'start', title: 'Start green on port 5002', at },
    { kind: 'log', source: 'server', line: 'INFO server listening on 127.0.0.1:5002', at },
    { kind: 'step:done', step: 'start', ms: 200, detail: `pid 4242, release ${newRelease}` },
    ...step('health', 'Health-check green', 1_200, 'tools: search, summarize'),
    ...step('switch', 'Switch nginx to green (5002)', 150),
    ...step('verify', 'Verify through https://mcp.example.org/mcp', 300),
    ...step('finalize', `Record ${newRelease} as active`, 50),
    { kind: 'step:start', step: 'sessions', title: "Let blue's sessions finish", at },
    { kind: 'step:progress', step: 'sessions', done: 12, total: 60, unit: 'seconds', detail: '2 session(s) on blue, 18 s left' },
    { kind: 'step:done', step: 'sessions', ms: 12_400, detail: "blue's sessions went quiet after 12.4 s" },
    ...step('drain', 'Drain and stop blue (5001)', 5_000, 'blue stopped'),
    ...step('prune', 'Prune old releases', 100, 'nothing to prune'),
    ...step('audit', 'Write the audit log and unlock', 60, 'lock released'),
    { kind: 'run:end', ok: true, ms: 20_700 },
  ];
}

export function successSummary(): RunSummary {
  return {
    ok: true,
    operation: 'deploy',
    target: 'prod',
    release: newRelease,
    previous: activeRelease,
    uploadedFiles: 5,
    uploadedBytes: 12_600,
    linkedFiles: 41,
    steps: [
      { name: 'connect', status: 'done', ms: 300 },
      { name: 'audit', status: 'done', ms: 60 },
    ],
    rolledBack: false,
    contract: null,
    serving: `release ${newRelease} on green (port 5002)`,
    exitCode: 0,
  };
}

export function healthFailureEvents(): EngineEvent[] {
  const serving = `release ${activeRelease} on blue (port 5001)`;
  return [
    { kind: 'run:start', operation: 'deploy', target: 'prod', at, steps: deploySteps({}, { validate: false }) },
    ...step('prepare', 'Hash the release files', 40),
    ...step('connect', 'Connect to prod and take the lock', 300),
    ...step('upload', `Upload release ${newRelease}`, 800),
    ...step('start', 'Start green on port 5002', 200),
    { kind: 'step:start', step: 'health', title: 'Health-check green', at },
    { kind: 'log', source: 'server', line: 'Traceback (most recent call last):', at },
    { kind: 'log', source: 'server', line: "ModuleNotFoundError: No module named 'rdflib'", at },
    {
      kind: 'step:failed',
      step: 'health',
      ms: 30_000,
      message: 'The green server exited before it answered (exit 1).',
      hint: 'Read the server log above; it usually names the missing module or setting.',
      details: ['last lines of the server log:', '  Traceback (most recent call last):', "  ModuleNotFoundError: No module named 'rdflib'"],
    },
    { kind: 'rollback', phase: 'start', reason: 'health failed: The green server exited before it answered (exit 1).', serving },
    ...step('rollback.stop', 'Stop green (5002)', 100),
    { kind: 'rollback', phase: 'done', reason: 'health failed', serving },
    ...step('audit', 'Write the audit log and unlock', 60, 'lock released'),
    { kind: 'run:end', ok: false, ms: 31_500 },
  ];
}

export function healthFailureSummary(): RunSummary {
  return {
    ...successSummary(),
    ok: false,
    steps: [
      { name: 'connect', status: 'done', ms: 300 },
      { name: 'health', status: 'failed', ms: 30_000 },
    ],
    rolledBack: true,
    serving: `release ${activeRelease} on blue (port 5001)`,
    error: { step: 'health', message: 'The green server exited before it answered (exit 1).' },
    exitCode: 1,
  };
}

const lockError = new DeployError('locked', 'prod is locked by alice@laptop (pid 7) since 2026-11-25T08:59:00Z (1m ago) for deploy.', {
  hint: 'Wait for it to finish, or if it is stale, run: mcp-deploy unlock --force (the lock is /srv/demo/deploy.lock).',
});

export function lockHeldEvents(): EngineEvent[] {
  return [
    { kind: 'run:start', operation: 'deploy', target: 'prod', at, steps: deploySteps({}, { validate: false }) },
    ...step('prepare', 'Hash the release files', 40),
    { kind: 'step:start', step: 'connect', title: 'Connect to prod and take the lock', at },
    { kind: 'step:failed', step: 'connect', ms: 250, message: lockError.message, ...(lockError.hint ? { hint: lockError.hint } : {}) },
    { kind: 'run:end', ok: false, ms: 400 },
  ];
}

export function lockHeldSummary(): RunSummary {
  return {
    ...successSummary(),
    ok: false,
    release: null,
    uploadedFiles: 0,
    uploadedBytes: 0,
    linkedFiles: 0,
    steps: [{ name: 'connect', status: 'failed', ms: 250 }],
    serving: null,
    error: { step: 'connect', message: lockError.message, ...(lockError.hint ? { hint: lockError.hint } : {}) },
    exitCode: 4,
  };
}

function row(id: string, overrides: Partial<ReleaseRow> = {}): ReleaseRow {
  return {
    id,
    createdAt: `${id.slice(0, 4)}-${id.slice(4, 6)}-${id.slice(6, 8)}T${id.slice(9, 11)}:${id.slice(11, 13)}:${id.slice(13, 15)}Z`,
    gitSha: id.split('-')[1] ?? null,
    operator: 'alice',
    requirementsHash: null,
    contract: null,
    depsHash: null,
    install: null,
    files: 46,
    bytes: 1_250_000,
    sizeBytes: 1_400_000,
    failed: null,
    tools: ['search', 'fetch_doc'],
    metadata: 'ok',
    problems: [],
    active: false,
    previous: false,
    lastResult: 'ok',
    deployedBy: 'alice',
    ...overrides,
  };
}

/** Newest first: a failed release above the active one, then the previous good one, then an older one. */
export function sampleListing(): ReleasesListing {
  return {
    ...sampleOverview(),
    rows: [
      row('20261126T120000Z-bad0bad', {
        failed: { at: '2026-11-26T12:01:00Z', step: 'health', message: 'exited (exit 1)' },
        lastResult: 'rolled-back',
      }),
      row(activeRelease, { active: true }),
      row('20261120T080000Z-0a0a0a0', { previous: true, deployedBy: 'bob' }),
      row('20261101T080000Z-0b0b0b0'),
    ],
    malformedAuditLines: 0,
  };
}
