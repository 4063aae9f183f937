import { hostLayout } from '../../host/layout.js';
import { readState } from '../../host/state.js';
import { DeployError } from '../../errors.js';
import type { GlobalOptions } from '../options.js';
import { createRunContext } from '../run-context.js';
import { chooseFace } from '../terminal.js';
import { runApp } from '../app-bridge.js';

/** `mcp-deploy logs [--follow] [--lines N] [--nginx]`: the active server's log, or nginx's error log. */
export async function logsCommand(options: GlobalOptions & { follow?: boolean; lines?: string; nginx?: boolean }): Promise<number> {
  if (chooseFace({ yes: options.yes ?? false, json: options.json ?? false }) === 'app') return runApp('logs', options);
  const context = createRunContext({ ...options, yes: true }, { plain: true });
  const transport = await context.connect();
  try {
    const layout = hostLayout(context.target.path);
    let file: string;
    if (options.nginx) {
      file = context.target.nginx.errorLog;
    } else {
      const state = await readState(transport, layout);
      if (!state?.active) throw new DeployError('usage', `Nothing is deployed on ${context.target.name} yet, so there is no server log.`);
      file = layout.logFile(state.active.release);
    }
    const lines = String(Number.parseInt(options.lines ?? '50', 10) || 50);
    const argv = options.follow ? ['tail', '-n', lines, '-F', file] : ['tail', '-n', lines, file];
    const result = await transport.stream(argv, {
      signal: context.signal,
      onLine: (line) => process.stdout.write(`${line}\n`),
    });
    return result.code === 0 || context.signal.aborted ? 0 : 1;
  } finally {
    await transport.close();
    context.dispose();
  }
}
