import { deploy } from '../engine/deploy.js';
import { readReleasesListing } from '../engine/inspect.js';
import { streamLog } from '../engine/logs.js';
import { planDeploy, readOverview } from '../engine/plan.js';
import { rollback } from '../engine/rollback.js';
import { sampleEvery } from '../engine/sample-loop.js';
import { createStatusSampler } from '../engine/status-sample.js';
import { validateOnly } from '../engine/validate-gate.js';
import { explainFailure } from '../errors.js';
import { notifyReportLines } from '../notify/notifier.js';
import type { Transport } from '../remote/transport.js';
import type { EngineEvent, Listener } from '../run/events.js';
import type { AppEngine, AppView, Failure } from '../ui/render-app.js';
import type { GlobalOptions } from './options.js';
import type { Output } from './output.js';
import { importOwningSignals } from './own-signals.js';
import { createRunContext, type RunContext } from './run-context.js';

export type { AppView } from '../ui/render-app.js';

export type AppOptions = GlobalOptions & {
  readonly skipValidate?: boolean;
  readonly allowBreaking?: boolean;
  /** Refuse uncommitted changes (`deploy --require-clean`). */
  readonly requireClean?: boolean;
  readonly verifyAll?: boolean;
  /** `logs`: nginx's error log instead of the server's, and how many lines to start with. */
  readonly nginx?: boolean;
  readonly lines?: string;
  /** `status --watch`: time between the dashboard's samples. */
  readonly intervalMs?: number;
};

/**
 * Where the terminal app plugs in: builds the run context (no plain reporter: the app is the
 * face), hands the app the engine through the small AppEngine interface, and returns the exit
 * code the app chose. Connections the app opened for reading are closed on the way out.
 */
export async function runApp(view: AppView, options: AppOptions, output: Output, release?: string): Promise<number> {
  const context = createRunContext(options, output, { plain: false });
  const connections = new Set<Transport>();
  try {
    const lines = Number.parseInt(options.lines ?? '50', 10) || 50;
    // Ink, React and the app's preferences load only when the app runs: CI and pipes never pay for
    // them. Their signal hooks (conf's re-raised SIGINT/SIGTERM) are taken off: see own-signals.ts.
    const { renderApp } = await importOwningSignals(() => import('../ui/render-app.js'));
    return await renderApp(appEngine(context, options, connections), {
      view,
      color: output.color,
      ...(release ? { release } : {}),
      ...(view === 'logs' ? { logs: { nginx: options.nginx ?? false, lines } } : {}),
      ...(view === 'dashboard' ? { dashboard: { intervalMs: options.intervalMs ?? 2_000 } } : {}),
    });
  } finally {
    await Promise.all([...connections].map((transport) => transport.close().catch(() => {})));
    // After the app has left the screen: the lines print to a normal terminal.
    const notifyLines = notifyReportLines(await context.notifier.flush());
    context.dispose();
    for (const line of notifyLines) output.line(line);
  }
}

/** The engine as the app sees it, over a real run context. */
export function appEngine(context: RunContext, options: AppOptions, connections: Set<Transport>): AppEngine {
  // Reads get a connection of their own: deploy() and rollback() close theirs when they end.
  // What the host says (state.json, the lock's holder, release records) reaches the screen masked and terminal-safe.
  const withConnection = async <T>(body: (transport: Transport) => Promise<T>): Promise<T> => {
    const transport = await context.connect();
    connections.add(transport);
    try {
      return context.output.cleanDeep(await body(transport));
    } finally {
      connections.delete(transport);
      await transport.close().catch(() => {});
    }
  };
  const force = options.force ?? false;
  return {
    app: context.config.app,
    target: context.target.name,
    // The app sees every event with its host-supplied text made safe for the terminal and masked.
    events: { on: (listener: Listener) => context.bus.on((event) => listener(cleanEvent(event, context.output))) },
    signal: context.signal,
    interrupt: () => context.interrupt(),
    plan: async () => {
      const local = options.skipValidate ? null : await validateOnly(context);
      context.signal.throwIfAborted();
      return withConnection((transport) =>
        planDeploy(context, transport, { tools: local?.tools ?? null, contract: local?.contract ?? null }),
      );
    },
    // Validation ran before the plan was shown; running it again would start the server twice.
    // A yes to a plan that showed breaking contract changes is the explicit allowance the gate asks for.
    deploy: (choice) =>
      deploy(context, {
        force,
        skipValidate: true,
        allowBreaking: (options.allowBreaking ?? false) || (choice?.allowBreaking ?? false),
        requireClean: options.requireClean ?? false,
        verifyAll: options.verifyAll ?? false,
      }),
    rollback: (chosen) =>
      rollback(context, { ...(chosen ? { release: chosen } : {}), force, ...(options.envFrom ? { envFrom: options.envFrom } : {}) }),
    overview: () => withConnection((transport) => readOverview(context, transport)),
    releases: () => withConnection((transport) => readReleasesListing(context, transport)),
    followLog: (request) =>
      withConnection(async (transport) => {
        const follow = { nginx: request.nginx ?? false, lines: request.lines ?? 50, follow: true, announce: true, signal: request.signal };
        await streamLog(context, transport, follow, (line, source) => request.onLine(context.output.clean(line), source));
      }),
    watchStatus: (request) =>
      withConnection(async (transport) => {
        const sampler = createStatusSampler(context, transport);
        try {
          await sampleEvery(sampler, {
            intervalMs: request.intervalMs,
            signal: AbortSignal.any([request.signal, context.signal]),
            onSample: (sample) => request.onSample(context.output.cleanDeep(sample)),
          });
        } finally {
          await sampler.close();
        }
      }),
    failure: (error: unknown): Failure => {
      const report = explainFailure(error, { interrupted: context.signal.aborted });
      return { exitCode: report.exitCode, message: report.message, ...(report.hint ? { hint: report.hint } : {}) };
    },
  };
}

function cleanEvent(event: EngineEvent, output: Output): EngineEvent {
  return output.cleanDeep(event);
}
