/**
 * Errors that travel up to the one place that decides exit codes (source/cli/exit.ts).
 *
 * A `DeployError` is something the operator can act on: it carries a stable exit code and,
 * where we know it, the next thing to try. Anything else that reaches the top is a bug.
 */

export const exitCodes = {
  ok: 0,
  deployFailed: 1,
  usage: 2,
  unreachable: 3,
  locked: 4,
  /** A deploy stopped before the switch because the new release breaks its MCP contract. */
  breakingContract: 5,
  bug: 70,
  interrupted: 130,
} as const;

export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

export type ErrorKind =
  | 'config'
  | 'usage'
  | 'validate'
  | 'unreachable'
  | 'auth'
  | 'host-key'
  | 'timeout'
  | 'locked'
  | 'deploy'
  | 'host-state'
  | 'interrupted';

const codeForKind: Record<ErrorKind, ExitCode> = {
  config: exitCodes.usage,
  usage: exitCodes.usage,
  validate: exitCodes.deployFailed,
  unreachable: exitCodes.unreachable,
  auth: exitCodes.unreachable,
  'host-key': exitCodes.unreachable,
  timeout: exitCodes.unreachable,
  locked: exitCodes.locked,
  deploy: exitCodes.deployFailed,
  'host-state': exitCodes.deployFailed,
  interrupted: exitCodes.interrupted,
};

export class DeployError extends Error {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(kind: ErrorKind, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeployError';
    this.kind = kind;
    this.hint = options.hint;
    this.exitCode = codeForKind[kind];
  }
}

export function isDeployError(error: unknown): error is DeployError {
  return error instanceof DeployError;
}

/** A short, single-line description of anything thrown, for event payloads and logs. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A failure as its audience should see it: the operator's to fix (with what to try), or our bug. */
export type FailureReport = {
  readonly kind: ErrorKind | 'bug';
  readonly message: string;
  readonly hint?: string;
  /** Only for bugs: where it happened, for the report. */
  readonly stack?: string;
  readonly exitCode: ExitCode;
};

/**
 * The one place that decides how an error that ended a command is told: a DeployError as it is;
 * anything else during a stop the operator asked for as "Interrupted."; anything else as a bug,
 * with its stack, asking for a report.
 */
export function explainFailure(error: unknown, options: { readonly interrupted?: boolean } = {}): FailureReport {
  if (isDeployError(error)) {
    return { kind: error.kind, message: error.message, ...(error.hint ? { hint: error.hint } : {}), exitCode: error.exitCode };
  }
  if (options.interrupted) return { kind: 'interrupted', message: 'Interrupted.', exitCode: exitCodes.interrupted };
  const stack = error instanceof Error ? error.stack : undefined;
  return {
    kind: 'bug',
    message: `mcp-deploy hit an internal error (a bug, not your setup): ${describeError(error)}`,
    hint: 'Please report it with the output above. The host lock, if taken, was released.',
    ...(stack ? { stack } : {}),
    exitCode: exitCodes.bug,
  };
}
