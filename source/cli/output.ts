import { Chalk, type ChalkInstance } from 'chalk';
import { explainFailure, type FailureReport } from '../errors.js';
import { type Scrub, scrubDeep } from '../run/scrub.js';
import { terminalSafe } from '../run/terminal-text.js';
import { wantsColor } from './terminal.js';

type Stream = Pick<NodeJS.WriteStream, 'write'> & { readonly isTTY?: boolean };

/**
 * The plain path's one writer to stdout and stderr. It decides on colour once, keeps human text
 * off stdout when stdout carries JSON, masks secrets in everything it writes, and makes text from
 * hosts safe for a terminal (escape sequences in a log line cannot clear the operator's screen).
 */
export type Output = {
  readonly json: boolean;
  /** Whether human text is coloured; `paint` is the chalk instance that agrees. */
  readonly color: boolean;
  readonly paint: ChalkInstance;
  /** The stream human text goes to: stdout, or stderr when stdout carries JSON. */
  readonly human: Stream;
  /** Human text, as is (no newline added). */
  write(text: string): void;
  /** Human text, one line. */
  line(text?: string): void;
  /** Clears the terminal the human text goes to (our own control sequence: text passed to write() could never do it). */
  clearScreen(): void;
  /** The data a command exists to print (log lines), on stdout, one line each. */
  data(text: string): void;
  /** The same for a remote command's own stderr (`exec`): on stderr, one line each. */
  dataError(text: string): void;
  /** The one JSON document of a `--json` run, on stdout. */
  document(value: unknown): void;
  /** One JSON object on its own line (streams: `logs --json`), on stdout. */
  record(value: unknown): void;
  /** A failure that ends the command: as a JSON document with `--json`, else as text on stderr. Returns the exit code. */
  fail(error: unknown, options?: { readonly interrupted?: boolean }): number;
  /** Mask these secrets from now on (the config's, once it is loaded). */
  mask(scrub: Scrub): void;
  /** Text as this output would show it (masked, terminal-safe), for the terminal app. */
  clean(text: string): string;
  /** The same for every string inside a value (an engine event). */
  cleanDeep<T>(value: T): T;
};

export type OutputOptions = {
  readonly json?: boolean;
  /** `--no-color` arrives as false. */
  readonly color?: boolean;
};

export function createOutput(
  options: OutputOptions,
  streams: { readonly stdout: Stream; readonly stderr: Stream } = { stdout: process.stdout, stderr: process.stderr },
  environment: Readonly<Record<string, string | undefined>> = process.env,
): Output {
  const json = options.json === true;
  const human = json ? streams.stderr : streams.stdout;
  const color = wantsColor(human, options.color, environment);
  const errorColor = wantsColor(streams.stderr, options.color, environment);
  const paint = new Chalk({ level: color ? 1 : 0 });
  let scrub: Scrub = (text) => text;
  const clean = (text: string) => terminalSafe(scrub(text));
  const toJson = (value: unknown) => JSON.stringify(scrubDeep(value, scrub), null, 2);
  return {
    json,
    color,
    paint,
    human,
    write: (text) => human.write(clean(text)),
    line: (text = '') => human.write(`${clean(text)}\n`),
    clearScreen: () => {
      if (human.isTTY) human.write('\u001b[H\u001b[2J');
    },
    data: (text) => streams.stdout.write(`${clean(text)}\n`),
    dataError: (text) => streams.stderr.write(`${clean(text)}\n`),
    document: (value) => streams.stdout.write(`${toJson(value)}\n`),
    record: (value) => streams.stdout.write(`${JSON.stringify(scrubDeep(value, scrub))}\n`),
    fail: (error, failOptions = {}) => {
      const report = explainFailure(error, failOptions);
      if (json) streams.stdout.write(`${toJson(failureDocument(report))}\n`);
      else streams.stderr.write(clean(renderFailure(report, new Chalk({ level: errorColor ? 1 : 0 }))));
      return report.exitCode;
    },
    mask: (next) => {
      scrub = next;
    },
    clean,
    cleanDeep: (value) => scrubDeep(value, clean),
  };
}

/** What `--json` prints when a command fails before it has a result of its own: always this shape. */
export function failureDocument(report: FailureReport): { ok: false; exitCode: number; error: Record<string, string> } {
  return {
    ok: false,
    exitCode: report.exitCode,
    error: {
      kind: report.kind,
      message: report.message,
      ...(report.hint ? { hint: report.hint } : {}),
    },
  };
}

/**
 * The one rendering of a failure as text, for the plain path and (without colour codes of its
 * own) the app: a message the operator can act on, or a bug report with its stack.
 */
export function renderFailure(report: FailureReport, paint: ChalkInstance): string {
  const lines = [`${paint.red('✖')} ${report.kind === 'bug' ? paint.red(report.message) : report.message}`];
  if (report.stack) lines.push(report.stack);
  if (report.hint) lines.push(`  ${paint.cyan(`→ ${report.hint}`)}`);
  return `${lines.join('\n')}\n`;
}
