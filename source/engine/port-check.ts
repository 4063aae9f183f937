import { arg, cmd, op, script } from '../remote/quote.js';
import type { Transport } from '../remote/transport.js';

const probe =
  'import socket,sys\ns=socket.socket()\ns.settimeout(1)\nsys.exit(0 if s.connect_ex(("127.0.0.1",int(sys.argv[1])))==0 else 3)';

/**
 * Whether something already listens on the host's loopback port. Asked with the host's Python
 * (every python runtime has one); a host without it answers "unknown", treated as free, and
 * a stranger on the port then shows up as a failed health check instead.
 */
export async function portInUse(transport: Transport, python: string, port: number): Promise<boolean> {
  const text = script(op('command -v'), arg(python), op('>/dev/null 2>&1 || exit 4;'), cmd([python, '-c', probe, String(port)]));
  const result = await transport.run({ script: text }, { timeoutMs: 15_000 });
  return result.code === 0;
}
