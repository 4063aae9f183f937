import type { Transport } from '../remote/transport.js';
import type { EventBus } from '../run/events.js';

/**
 * Follows a release's log on the host while it starts and is checked: every line becomes a `log`
 * event (the app's log pane shows them), and the last lines are kept for the failure message.
 */
export function followServerLog(transport: Transport, bus: EventBus, logFile: string, keep = 40) {
  const controller = new AbortController();
  const tail: string[] = [];
  const done = transport
    .stream(['tail', '-n', '0', '-F', logFile], {
      signal: controller.signal,
      longRunning: true,
      onLine: (line) => {
        if (/^tail: /.test(line)) return; // tail's own notes about the file appearing
        tail.push(line);
        if (tail.length > keep) tail.shift();
        bus.emit({ kind: 'log', source: 'server', line, at: Date.now() });
      },
    })
    .catch(() => ({ code: null }));
  return {
    lastLines: (count = 20) => tail.slice(-count),
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

/** The last lines of a log file on the host, for failure messages when nothing was followed. */
export async function readLogTail(transport: Transport, logFile: string, lines = 20): Promise<string[]> {
  const result = await transport.run(['tail', '-n', String(lines), logFile]);
  return result.code === 0 ? result.stdout.split('\n').filter((line) => line !== '') : [];
}
