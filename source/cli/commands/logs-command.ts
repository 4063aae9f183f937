import { parseSince } from '../../engine/log-filter.js';
import { fleetHostsFor } from '../fleet-fan-out.js';
import { onEveryHost } from './fleet-commands.js';
import { streamLog } from '../../engine/logs.js';
import { assertSafeReleaseId } from '../../host/layout.js';
import { runApp } from '../app-bridge.js';
import { wholeNumberOption } from '../number-option.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { chooseFace } from '../terminal.js';
import { withHost } from '../with-host.js';

export type LogsOptions = GlobalOptions & {
  readonly follow?: boolean;
  readonly lines?: string;
  readonly nginx?: boolean;
  readonly release?: string;
  readonly grep?: string;
  readonly since?: string;
};

/**
 * `mcp-deploy logs [--follow] [--lines N] [--nginx | --release ID] [--grep PATTERN] [--since TIME] [--json]`:
 * the active server's log, a release's, or nginx's error log. Asking for a release or a filter prints
 * the lines (and follows them with --follow) instead of opening the app's log pane.
 */
export async function logsCommand(options: LogsOptions, output: Output): Promise<number> {
  // Bad input is refused before anything connects.
  const since = options.since === undefined ? undefined : parseSince(options.since);
  const release = options.release === undefined ? undefined : assertSafeReleaseId(options.release);
  const lines = wholeNumberOption('--lines', options.lines, 50);
  const hosts = fleetHostsFor(options);
  // Merged: every host's lines as they come, each prefixed with its host.
  if (hosts !== null) return onEveryHost(hosts, options, output, 'logs', logsCommand, { parallel: true });
  const selective = release !== undefined || options.grep !== undefined || since !== undefined;
  if (!selective && chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app')
    return runApp('logs', options, output);
  return withHost(options, output, async (context, transport) => {
    const request = {
      nginx: options.nginx ?? false,
      ...(release === undefined ? {} : { release }),
      ...(options.grep === undefined ? {} : { grep: options.grep }),
      ...(since === undefined ? {} : { since }),
      // A time window means every line in it, unless --lines says otherwise.
      lines: options.lines === undefined && since !== undefined ? null : lines,
      follow: options.follow ?? false,
      signal: context.signal,
    };
    // With --json, one object per line: a stream stays a stream.
    const result = await streamLog(context, transport, request, (line, source) =>
      output.json ? output.record({ source, line }) : output.data(line),
    );
    return result.code === 0 || context.signal.aborted ? 0 : 1;
  });
}
