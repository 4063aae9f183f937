import { streamLog } from '../../engine/logs.js';
import { runApp } from '../app-bridge.js';
import type { GlobalOptions } from '../options.js';
import type { Output } from '../output.js';
import { chooseFace } from '../terminal.js';
import { withHost } from '../with-host.js';

/** `mcp-deploy logs [--follow] [--lines N] [--nginx] [--json]`: the active server's log, or nginx's error log. */
export async function logsCommand(
  options: GlobalOptions & { follow?: boolean; lines?: string; nginx?: boolean },
  output: Output,
): Promise<number> {
  if (chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app') return runApp('logs', options, output);
  return withHost(options, output, async (context, transport) => {
    const request = {
      nginx: options.nginx ?? false,
      lines: Number.parseInt(options.lines ?? '50', 10) || 50,
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
