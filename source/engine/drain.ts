import { arg, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';

/**
 * How many TCP connections to `port` on the host are established right now. Read from
 * /proc/net/tcp{,6} (state 01 = ESTABLISHED), so it needs neither ss nor netstat. nginx holds
 * connections to the old colour until its old workers have finished their requests and exited:
 * when none are left, stopping the old colour cannot cut a request.
 */
export async function establishedConnections(transport: Transport, port: number): Promise<number | null> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const text = script(
    // One word: script() joins parts with spaces, so `p=` and the value must not be separate parts.
    op('cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v'),
    arg(`p=:${hex}`),
    op('\'$2 ~ p"$" && $4 == "01" { n++ } END { print n + 0 }\''),
  );
  const result = await transport.run({ script: text }, { timeoutMs: 15_000 });
  const count = Number.parseInt(result.stdout.trim(), 10);
  return result.code === 0 && Number.isFinite(count) ? count : null;
}

/**
 * The shortest wait after a switch, whatever `drainSeconds` says. On a reload nginx's master
 * starts the new workers, sleeps 100 ms ("allow new processes to start") and only then tells the
 * old ones to stop accepting: until they do, a new connection can still land on an old worker,
 * which proxies to the old colour. An old worker that holds no connection to the old colour does
 * not show in the count below, so only time covers that window; 1 s leaves room for a busy host.
 */
export const reloadSettleMs = 1_000;

/**
 * Waits `minimumMs` (at least reloadSettleMs unless `settled`), then until nothing is connected to `port` any
 * more, for at most `maximumMs` in all. Returns how many connections were still open at the end
 * (0 = drained).
 */
export async function drainPort(
  transport: Transport,
  port: number,
  options: {
    minimumMs: number;
    maximumMs: number;
    log: (line: string) => void;
    /** The host saw nginx's old workers stop accepting (nginx-settle.ts): the count alone tells, no floor is needed. */
    settled?: boolean;
  },
): Promise<number> {
  const started = Date.now();
  await sleep(options.settled === true ? options.minimumMs : Math.max(options.minimumMs, reloadSettleMs));
  let open = await establishedConnections(transport, port);
  if (open === null) return 0; // cannot tell on this host: the minimum wait is all we can do
  while (open > 0 && Date.now() - started < options.maximumMs) {
    options.log(`${open} connection(s) still open to port ${port}`);
    await sleep(250);
    open = (await establishedConnections(transport, port)) ?? 0;
  }
  return open;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
