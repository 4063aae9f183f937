import { DeployError, exitCodes, describeError, isDeployError } from '../errors.js';
import { deploy } from '../engine/deploy.js';
import { readReleases } from '../engine/inspect.js';
import { planDeploy, readOverview } from '../engine/plan.js';
import { rollback } from '../engine/rollback.js';
import { validateOnly } from '../engine/validate-gate.js';
import { hostLayout } from '../host/layout.js';
import { readLock } from '../host/lock.js';
import { readState } from '../host/state.js';
import type { Transport } from '../remote/transport.js';
import type { AppEngine, AppView, Failure } from '../ui/render-app.js';
import type { GlobalOptions } from './options.js';
import { importOwningSignals } from './own-signals.js';
import { createRunContext, type RunContext } from './run-context.js';
import { notifyReportLines } from '../notify/notifier.js';

export type { AppView } from '../ui/render-app.js';

export type AppOptions = GlobalOptions & {
  readonly skipValidate?: boolean;
  readonly allowBreaking?: boolean;
  /** `logs`: nginx's error log instead of the server's, and how many lines to start with. */
  readonly nginx?: boolean;
  readonly lines?: string;
};

/**
 * Where the terminal app plugs in: builds the run context (no plain reporter: the app is the
 * face), hands the app the engine through the small AppEngine interface, and returns the exit
 * code the app chose. Connections the app opened for reading are closed on the way out.
 */
export async function runApp(view: AppView, options: AppOptions, release?: string): Promise<number> {
  const context = createRunContext(options, { plain: false });
  const connections = new Set<Transport>();
  try {
    const lines = Number.parseInt(options.lines ?? '50', 10) || 50;
    // Ink, React and the app's preferences load only when the app runs: CI and pipes never pay for
    // them. Their signal hooks (conf's re-raised SIGINT/SIGTERM) are taken off: see own-signals.ts.
    const { renderApp } = await importOwningSignals(() => import('../ui/render-app.js'));
    return await renderApp(appEngine(context, options, connections), {
      view,
      color: context.color,
      ...(release ? { release } : {}),
      ...(view === 'logs' ? { logs: { nginx: options.nginx ?? false, lines } } : {}),
    });
  } finally {
    await Promise.all([...connections].map((transport) => transport.close().catch(() => {})));
    // After the app has left the screen: the lines print to a normal terminal.
    const notifyLines = notifyReportLines(await context.notifier.flush());
    context.dispose();
    for (const line of notifyLines) process.stderr.write(`${line}\n`);
  }
}

/** The engine as the app sees it, over a real run context. */
export function appEngine(context: RunContext, options: AppOptions, connections: Set<Transport>): AppEngine {
  // Reads get a connection of their own: deploy() and rollback() close theirs when they end.
  const withConnection = async <T>(body: (transport: Transport) => Promise<T>): Promise<T> => {
    const transport = await context.connect();
    connections.add(transport);
    try {
      return await body(transport);
    } finally {
      connections.delete(transport);
      await transport.close().catch(() => {});
    }
  };
  const force = options.force ?? false;
  return {
    app: context.config.app,
    target: context.target.name,
    events: context.bus,
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
      deploy(context, { force, skipValidate: true, allowBreaking: (options.allowBreaking ?? false) || (choice?.allowBreaking ?? false) }),
    rollback: (chosen) => rollback(context, { ...(chosen ? { release: chosen } : {}), force }),
    overview: () => withConnection((transport) => readOverview(context, transport)),
    releases: () =>
      withConnection(async (transport) => {
        const layout = hostLayout(context.target.path);
        const [listing, lock] = await Promise.all([
          readReleases(context, transport),
          readLock(transport, layout, { staleMinutes: context.target.lockStaleMinutes, localHostName: context.localHost }),
        ]);
        return { host: transport.label, state: listing.state, lock, rows: listing.rows, malformedAuditLines: listing.malformedAuditLines };
      }),
    followLog: (request) =>
      withConnection(async (transport) => {
        const layout = hostLayout(context.target.path);
        let file: string;
        if (request.nginx) file = context.target.nginx.errorLog;
        else {
          const state = await readState(transport, layout);
          if (!state?.active)
            throw new DeployError('usage', `Nothing is deployed on ${context.target.name} yet, so there is no server log.`);
          file = layout.logFile(state.active.release);
        }
        request.onLine(`── ${file} on ${transport.label} ──`, 'engine');
        await transport.stream(['tail', '-n', String(request.lines ?? 50), '-F', file], {
          signal: request.signal,
          onLine: (line, stream) => request.onLine(line, stream === 'stderr' ? 'engine' : request.nginx ? 'nginx' : 'server'),
        });
      }),
    failure: (error: unknown): Failure => {
      if (isDeployError(error)) return { exitCode: error.exitCode, message: error.message, ...(error.hint ? { hint: error.hint } : {}) };
      if (context.signal.aborted) return { exitCode: exitCodes.interrupted, message: 'Interrupted.' };
      return {
        exitCode: exitCodes.bug,
        message: `mcp-deploy hit an internal error (a bug, not your setup): ${describeError(error)}`,
        hint: 'Please report it with the output above. The host lock, if taken, was released.',
      };
    },
  };
}
