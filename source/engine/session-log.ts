import type { Transport } from '../remote/transport.js';
import { colourOfTag, tagPattern } from './nginx-routing.js';

/**
 * The session log nginx writes through the location include (`nginx.sessionLog`): one line per
 * request to one of the app's colours, `$msec <session of the request> <session of the response>
 * $status $request_method $upstream_addr`, each session written as `<tag>.<end of the server's
 * id>` or `-`. What the session drain waits on and what `status` counts. Times are nginx's, the
 * host's clock.
 */

export type SessionActivity = {
  /** `<tag>.<end of id>`: enough to tell sessions apart, never the whole id. */
  readonly key: string;
  readonly tag: string;
  /** The host time (epoch seconds) of its last request. */
  lastAt: number;
  /** Ended: a DELETE that succeeded, or a 404 (the server, or nginx for a retired tag, knew it no more). */
  ended: boolean;
};

export type SessionBook = Map<string, SessionActivity>;

const sessionKey = new RegExp(`^(${tagPattern})\\.[!-~]+$`);

/**
 * Adds each line's activity to `book`, and to `addresses` when each upstream address last
 * answered; lines that are not ours are skipped.
 */
export function recordSessionLines(text: string, book: SessionBook, addresses?: Map<string, number>): void {
  for (const line of text.split('\n')) {
    const [msec, incoming, outgoing, status, method, ...upstream] = line.trim().split(' ');
    const at = Number(msec);
    if (!Number.isFinite(at) || status === undefined || method === undefined) continue;
    // $upstream_addr may list several ("a, b") when nginx tried more than one: the last answered.
    const address = upstream.join(' ').split(', ').pop();
    if (addresses !== undefined && address !== undefined && address !== '-' && address !== '') {
      addresses.set(address, Math.max(addresses.get(address) ?? 0, at));
    }
    for (const key of new Set([incoming, outgoing])) {
      const tag = key === undefined ? null : (sessionKey.exec(key)?.[1] ?? null);
      if (key === undefined || tag === null) continue;
      const entry = book.get(key) ?? { key, tag, lastAt: at, ended: false };
      entry.lastAt = Math.max(entry.lastAt, at);
      // Only the request side says a session ended; a response that issues one starts it.
      if (key === incoming && (status === '404' || (method === 'DELETE' && status.startsWith('2')))) entry.ended = true;
      book.set(key, entry);
    }
  }
}

/** Sessions of `tag` that have not ended and had a request at or after `since`. */
export function liveSessions(book: SessionBook, tag: string, since: number): SessionActivity[] {
  return [...book.values()].filter((entry) => entry.tag === tag && !entry.ended && entry.lastAt >= since);
}

/** Per colour: sessions seen (not ended) since `since`, under the colour's tags, whatever the life. */
export function sessionsByColour(book: SessionBook, since: number): Record<'blue' | 'green', number> {
  const counts = { blue: 0, green: 0 };
  for (const entry of book.values()) {
    const colour = colourOfTag(entry.tag);
    if (colour !== null && !entry.ended && entry.lastAt >= since) counts[colour] += 1;
  }
  return counts;
}

/** How much of the log's end a first look reads: sessions active shortly before a switch are in it. */
export const firstLookBytes = 512 * 1024;

/**
 * Reads the session log on the host incrementally: the first read takes its last
 * `firstLookBytes`, each later one what was appended since (from the start again if the log was
 * rotated). Every read also returns the host's time, in the same round trip.
 */
export class SessionLogReader {
  readonly book: SessionBook = new Map();
  /** When each upstream address last answered, by the log: proof the log sees a colour's traffic at all. */
  readonly addresses = new Map<string, number>();
  #offset = -1;

  constructor(
    private readonly transport: Transport,
    private readonly file: string,
  ) {}

  /**
   * Drops what was last seen before `before` (epoch seconds) and what ended: a reader that runs
   * for hours (the dashboard, monitor) keeps only the sessions it still counts.
   */
  forget(before: number): void {
    for (const [key, entry] of this.book) if (entry.ended || entry.lastAt < before) this.book.delete(key);
    for (const [address, at] of this.addresses) if (at < before) this.addresses.delete(address);
  }

  /** The host's time now (epoch seconds), or null when the log cannot be read. */
  async read(): Promise<{ readonly now: number; readonly readable: boolean }> {
    const result = await this.transport.run(
      {
        script: [
          'date +%s.%N',
          'if [ ! -r "$f" ]; then echo unreadable; exit 0; fi',
          's=$(wc -c < "$f")',
          'if [ "$o" -lt 0 ]; then o=$((s - first)); [ "$o" -lt 0 ] && o=0; elif [ "$s" -lt "$o" ]; then o=0; fi',
          'echo "$s $o"',
          'tail -c +$((o + 1)) "$f" | head -c $((s - o))',
        ].join('\n'),
      },
      { env: { f: this.file, o: String(this.#offset), first: String(firstLookBytes) }, timeoutMs: 15_000 },
    );
    const [clock = '', sizes = '', ...rest] = result.stdout.split('\n');
    const now = Number.parseFloat(clock);
    if (result.code !== 0 || sizes === 'unreadable' || !Number.isFinite(now)) {
      return { now: Number.isFinite(now) ? now : Date.now() / 1000, readable: false };
    }
    const [size = Number.NaN, from = Number.NaN] = sizes.split(' ').map(Number);
    if (!Number.isFinite(size) || !Number.isFinite(from)) return { now, readable: false };
    let text = rest.join('\n');
    // A first look that starts inside the log starts inside a line: drop that part line.
    if (this.#offset < 0 && from > 0) text = text.slice(text.indexOf('\n') + 1);
    recordSessionLines(text, this.book, this.addresses);
    this.#offset = size;
    return { now, readable: true };
  }
}
