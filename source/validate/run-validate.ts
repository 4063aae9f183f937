import type { Config } from '../config/load.js';
import type { EventBus } from '../run/events.js';
import { runStep, skipStep, StepFailure, type StepContext } from '../run/step.js';
import type { DeclaredStep, StepId } from '../run/step-ids.js';
import type { Contract } from '../contract/contract.js';
import { describeError } from '../errors.js';
import { HealthTimeoutError, waitHealthy } from '../health/wait-healthy.js';
import { ProbeConfigError } from '../health/probe-errors.js';
import { listSourceFiles, type SourceEntry } from '../project/source-files.js';
import { checkEnv } from './env-check.js';
import { startLocalServer, type LocalServer, type ServerExit } from './local-server.js';
import { checkPythonSyntax } from './python-syntax.js';
import { checkTurtle } from './turtle.js';

export type ValidateOptions = {
  readonly signal?: AbortSignal;
  /** Start the server locally and probe it (default true). */
  readonly startServer?: boolean;
};

export type ValidateResult = {
  readonly ok: boolean;
  readonly tools: string[];
  /** The local server's MCP contract, read through the SDK once it answered; null when it was not started. */
  readonly contract: Contract | null;
  readonly files: number;
};

const titles = {
  files: 'Collect source files',
  python: 'Python syntax',
  ontologies: 'Ontologies parse as Turtle',
  env: 'Required environment variables',
  server: 'Server starts and answers MCP',
} as const;

/** The local checks, in the order they run: the first steps of a deploy that validates. */
export const validateSteps: readonly DeclaredStep[] = [
  { id: 'validate.files', title: titles.files },
  { id: 'validate.python', title: titles.python },
  { id: 'validate.ontologies', title: titles.ontologies },
  { id: 'validate.env', title: titles.env },
  { id: 'validate.server', title: titles.server },
];

/**
 * Everything that can be checked before touching a host, as steps on `bus`. Check failures are
 * reported as failed steps and in `ok`, never thrown; independent checks all run so one pass shows
 * every problem. Only an abort (`signal`) throws.
 */
export async function runValidate(config: Config, bus: EventBus, options: ValidateOptions = {}): Promise<ValidateResult> {
  const { signal } = options;
  let ok = true;
  const step = async <T>(
    id: StepId,
    title: string,
    body: (context: StepContext) => Promise<T>,
  ): Promise<{ value: T | undefined; failed: boolean }> => {
    try {
      return { value: await runStep({ bus, ...(signal ? { signal } : {}) }, id, title, body), failed: false };
    } catch (_error) {
      if (signal?.aborted) throw signal.reason;
      ok = false;
      return { value: undefined, failed: true };
    }
  };

  const files = await step('validate.files', titles.files, async (context) => {
    const entries = await listSourceFiles(config, {
      onSkipped: (skipped) => bus.emit({ kind: 'notice', level: 'warn', message: `Not shipped: ${skipped.path} (${skipped.reason})` }),
    });
    const regular = entries.filter((entry) => entry.kind === 'file');
    const bytes = regular.reduce((sum, entry) => sum + entry.size, 0);
    context.detail(`${regular.length} file${regular.length === 1 ? '' : 's'}, ${(bytes / 1024).toFixed(1)} kB`);
    return entries;
  });

  let python: { failed: boolean };
  if (files.value === undefined) {
    skipStep(bus, 'validate.python', titles.python, 'the source files could not be listed');
    python = { failed: false };
  } else {
    const entries: readonly SourceEntry[] = files.value;
    python = await step('validate.python', titles.python, async (context) => {
      const { checked } = await checkPythonSyntax(config, entries, signal ? { signal } : {});
      context.detail(`${checked} file${checked === 1 ? '' : 's'}`);
    });
  }

  if (files.value === undefined) {
    skipStep(bus, 'validate.ontologies', titles.ontologies, 'the source files could not be listed');
  } else {
    const entries: readonly SourceEntry[] = files.value;
    await step('validate.ontologies', titles.ontologies, async (context) => {
      const { files: count, triples } = await checkTurtle(config, entries, signal ? { signal } : {});
      context.detail(`${count} file${count === 1 ? '' : 's'}, ${triples} triples`);
    });
  }

  await step('validate.env', titles.env, async (context) => {
    const { required } = await checkEnv(config);
    context.detail(`${required} set`);
  });

  let tools: string[] = [];
  let contract: Contract | null = null;
  if (options.startServer === false) {
    skipStep(bus, 'validate.server', titles.server, 'server start not requested (startServer: false)');
  } else if (python.failed) {
    skipStep(bus, 'validate.server', titles.server, 'Python syntax errors; fix them first');
  } else {
    const server = await step('validate.server', titles.server, (context) => serverAnswers(config, bus, context, signal));
    tools = server.value?.tools ?? [];
    contract = server.value?.contract ?? null;
  }

  const fileCount = files.value?.filter((entry) => entry.kind === 'file').length ?? 0;
  return { ok, tools, contract, files: fileCount };
}

async function serverAnswers(
  config: Config,
  bus: EventBus,
  context: StepContext,
  signal: AbortSignal | undefined,
): Promise<{ tools: string[]; contract: Contract | null }> {
  const server = await startLocalServer(config, {
    onLine: (line) => bus.emit({ kind: 'log', source: 'server', line, at: Date.now() }),
  });
  context.log(`Started the server locally: pid ${server.pid}, ${server.baseUrl}`);
  const stopProbing = new AbortController();
  const probeSignal = signal ? AbortSignal.any([signal, stopProbing.signal]) : stopProbing.signal;
  try {
    const timeoutMs = config.health.timeoutSeconds * 1000;
    const healthy = waitHealthy(server.baseUrl, config.health, {
      timeoutMs,
      signal: probeSignal,
      contract: true,
      onAttempt: (attempt) => context.progress(attempt.passed, attempt.total, 'checks', attempt.failure),
    });
    const outcome = await Promise.race([
      healthy.then((result) => ({ kind: 'healthy' as const, result })),
      server.exited.then((exit) => ({ kind: 'exited' as const, exit })),
    ]);
    if (outcome.kind === 'exited') {
      stopProbing.abort(new Error('server exited'));
      await healthy.catch(() => undefined);
      throw new StepFailure(`The server ${describeExit(outcome.exit)} before it answered.`, tailOf(server), {
        hint: 'Its last output lines are above; run it by hand in the source folder to see more.',
      });
    }
    context.detail(`tools: ${outcome.result.tools.length === 0 ? '(none)' : outcome.result.tools.join(', ')}`);
    return { tools: outcome.result.tools, contract: outcome.result.contract ?? null };
  } catch (error) {
    if (error instanceof StepFailure || signal?.aborted) throw error;
    throw explain(error, server);
  } finally {
    await server.stop();
  }
}

function explain(error: unknown, server: LocalServer): StepFailure {
  if (error instanceof ProbeConfigError) {
    return new StepFailure(`Health check misconfigured: ${error.message}`, tailOf(server), {
      hint: error.hint ?? 'Check "health" in the config file.',
      cause: error,
    });
  }
  if (error instanceof HealthTimeoutError) {
    return new StepFailure(error.message, tailOf(server), { ...(error.hint ? { hint: error.hint } : {}), cause: error });
  }
  return new StepFailure(describeError(error), tailOf(server), { cause: error });
}

function tailOf(server: LocalServer): string[] {
  const lines = server.outputTail();
  return lines.length === 0 ? ['(the server printed nothing)'] : lines.map((line) => `server: ${line}`);
}

function describeExit(exit: ServerExit): string {
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return `was killed by ${exit.signal ?? 'a signal'}`;
}
