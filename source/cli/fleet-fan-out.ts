import { explainFailure } from '../errors.js';
import { fleetOf, type FleetHost } from '../config/fleet.js';
import { loadConfig, selectTarget } from '../config/load.js';
import type { GlobalOptions } from './options.js';
import { failureDocument, renderFailure, type Output } from './output.js';

/** What one host's run of a command left: its exit code and, with --json, its document. */
export type HostOutcome = { readonly host: string; readonly code: number; readonly document: unknown };

/**
 * The hosts a read-or-tend command (status, releases, logs, unlock, doctor, setup) goes through
 * one by one: the fleet's, unless --host names one (or the target is one host: null).
 */
export function fleetHostsFor(options: GlobalOptions): readonly FleetHost[] | null {
  if (options.host !== undefined) return null;
  const config = loadConfig({ ...(options.config ? { file: options.config } : {}) });
  return fleetOf(selectTarget(config, options.target), undefined);
}

/**
 * Runs a one-host command on every host of the fleet, as if with `--host NAME`: every line it
 * prints prefixed with its host, its --json document kept (the caller makes one of them all).
 * `parallel`: all hosts at once (logs --follow merges their lines); otherwise in the config's order.
 */
export async function forEachHost(
  hosts: readonly FleetHost[],
  options: GlobalOptions,
  output: Output,
  command: (options: GlobalOptions, output: Output) => Promise<number>,
  how: { readonly parallel?: boolean; readonly capture?: boolean; readonly ask?: boolean } = {},
): Promise<HostOutcome[]> {
  const one = async (host: FleetHost): Promise<HostOutcome> => {
    const prefixed = hostOutput(output, host.name, how.capture ?? false);
    let code: number;
    try {
      // No terminal app per host: plain output (a command that asks, setup, still may with `ask`).
      code = await command({ ...options, host: host.name, ...(how.ask ? {} : { yes: true }) }, prefixed.output);
    } catch (error) {
      code = prefixed.output.fail(error);
    }
    return { host: host.name, code, document: prefixed.document() };
  };
  if (how.parallel) return Promise.all(hosts.map(one));
  const outcomes: HostOutcome[] = [];
  for (const host of hosts) outcomes.push(await one(host));
  return outcomes;
}

/** The fleet's --json document: each host's own, under its name. */
export function fleetDocument(outcomes: readonly HostOutcome[]): Record<string, unknown> {
  return {
    ok: outcomes.every((outcome) => outcome.code === 0),
    hosts: outcomes.map((outcome) => ({ host: outcome.host, exitCode: outcome.code, result: outcome.document })),
  };
}

/** The last lines of a fan-out: a line per host with how it ended. Returns the first failing host's code. */
export function summarizeHosts(output: Output, what: string, outcomes: readonly HostOutcome[]): number {
  const { paint } = output;
  if (!output.json) {
    output.line(paint.bold(`${what}: ${outcomes.length} host(s)`));
    for (const outcome of outcomes)
      output.line(
        `  ${outcome.code === 0 ? paint.green('✔') : paint.red('✖')} ${outcome.host}${outcome.code === 0 ? '' : ` (exit ${outcome.code})`}`,
      );
  }
  return outcomes.find((outcome) => outcome.code !== 0)?.code ?? 0;
}

/** An Output whose lines carry the host's name, and whose JSON document is kept for the fleet's. */
function hostOutput(output: Output, host: string, capture: boolean): { output: Output; document: () => unknown } {
  const prefix = `[${host}] `;
  const prefixLines = (text: string) => text.replace(/^(?=.)/gm, prefix);
  let document: unknown = null;
  const wrapped: Output = {
    ...output,
    // `capture`: the command makes its JSON document, which the fleet's view is made from.
    json: output.json || capture,
    write: (text) => output.write(prefixLines(text)),
    line: (text = '') => output.line(`${prefix}${text}`),
    clearScreen: () => {},
    data: (text) => output.data(`${prefix}${text}`),
    dataError: (text) => output.dataError(`${prefix}${text}`),
    document: (value) => {
      document = value;
    },
    record: (value) => output.record(typeof value === 'object' && value !== null ? { host, ...value } : { host, value }),
    fail: (error, failOptions = {}) => {
      const report = explainFailure(error, failOptions);
      if (output.json || capture) document = failureDocument(report);
      else for (const line of renderFailure(report, output.paint).trimEnd().split('\n')) output.dataError(`${prefix}${line}`);
      return report.exitCode;
    },
  };
  return { output: wrapped, document: () => document };
}
