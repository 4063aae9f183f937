import type { Transport } from '../remote/transport.js';

/**
 * Which addresses the host listens on for a port, read from /proc/net/tcp and tcp6 (one round
 * trip; neither ss nor netstat is needed, nor any right the SSH user lacks). What the exposure
 * check after start and doctor judge: a server bound to 0.0.0.0 or [::] answers every interface,
 * so anyone who can reach the host reaches it past nginx (and past its API keys).
 */

export type Listener = {
  /** As people write it: `127.0.0.1`, `0.0.0.0`, `::`, `::1`, `10.0.0.5`. */
  readonly address: string;
  readonly scope: 'loopback' | 'wildcard' | 'address';
};

const listenState = '0A';

export async function listenersOn(transport: Transport, port: number): Promise<Listener[]> {
  const result = await transport.run({ script: 'cat /proc/net/tcp /proc/net/tcp6 2>/dev/null; exit 0' }, { timeoutMs: 15_000 });
  return parseListeners(result.stdout, port);
}

/** Every listening socket on `port` in /proc/net/tcp(6) text, once per address. */
export function parseListeners(text: string, port: number): Listener[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const seen = new Map<string, Listener>();
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (local === undefined || fields[3] !== listenState) continue;
    const [hexAddress = '', localPort = ''] = local.split(':');
    if (localPort.toUpperCase() !== hexPort) continue;
    const address = hexAddress.length === 8 ? ipv4(hexAddress) : hexAddress.length === 32 ? ipv6(hexAddress) : null;
    if (address === null) continue;
    seen.set(address, { address, scope: scopeOf(address) });
  }
  return [...seen.values()];
}

/** The listeners anyone but this host could reach. */
export function exposed(listeners: readonly Listener[]): Listener[] {
  return listeners.filter((listener) => listener.scope !== 'loopback');
}

export function describeListener(listener: Listener, port: number): string {
  const where = listener.address.includes(':') ? `[${listener.address}]:${port}` : `${listener.address}:${port}`;
  return listener.scope === 'wildcard' ? `${where} (every interface)` : where;
}

function scopeOf(address: string): Listener['scope'] {
  if (address === '0.0.0.0' || address === '::') return 'wildcard';
  if (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')) return 'loopback';
  return 'address';
}

/** /proc writes an IPv4 address as one little-endian 32-bit word in hex. */
function ipv4(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  return [bytes[3], bytes[2], bytes[1], bytes[0]].join('.');
}

/** And an IPv6 address as four such words. */
function ipv6(hex: string): string {
  const bytes = Buffer.alloc(16);
  for (let word = 0; word < 4; word += 1) {
    const value = Buffer.from(hex.slice(word * 8, word * 8 + 8), 'hex');
    for (let index = 0; index < 4; index += 1) bytes[word * 4 + index] = value[3 - index] ?? 0;
  }
  if (bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) groups.push(((bytes[index]! << 8) | bytes[index + 1]!).toString(16));
  return compress(groups);
}

/** The longest run of zero groups as `::`. */
function compress(groups: readonly string[]): string {
  let best = { start: -1, length: 0 };
  for (let start = 0; start < groups.length; start += 1) {
    let length = 0;
    while (groups[start + length] === '0') length += 1;
    if (length > best.length) best = { start, length };
  }
  if (best.length < 2) return groups.join(':');
  const head = groups.slice(0, best.start).join(':');
  const tail = groups.slice(best.start + best.length).join(':');
  return `${head}::${tail}`;
}
