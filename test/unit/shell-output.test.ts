import { describe, expect, it } from 'vitest';
import { MarkScanner, ShellOutput } from '../../source/remote/shell-output.js';

/** Feeds `chunks` to a scanner for `mark`; returns what was delivered and what followed the mark. */
function scan(mark: string, chunks: readonly (string | Buffer)[]): { delivered: Buffer[]; after: Buffer | null } {
  const delivered: Buffer[] = [];
  const scanner = new MarkScanner(Buffer.from(mark), (chunk) => delivered.push(Buffer.from(chunk)));
  let after: Buffer | null = null;
  for (const chunk of chunks) {
    after = scanner.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    if (after !== null) break;
  }
  return { delivered, after };
}

describe('MarkScanner', () => {
  it('hands on the bytes before the mark and returns those after it', () => {
    const { delivered, after } = scan('\x1fw1 ', ['hello\n\x1fw1 0\nrest']);
    expect(Buffer.concat(delivered).toString()).toBe('hello\n');
    expect(after?.toString()).toBe('0\nrest');
  });

  it('finds a mark split across chunks, byte by byte too', () => {
    const text = 'out\x1fmark tail';
    const { delivered, after } = scan(
      '\x1fmark',
      [...text].map((c) => c),
    );
    expect(Buffer.concat(delivered).toString()).toBe('out');
    expect(after?.toString()).toBe('');
  });

  it('holds back only a tail that could begin the mark, and passes it on when it does not', () => {
    const delivered: string[] = [];
    const scanner = new MarkScanner(Buffer.from('\x1fword'), (chunk) => delivered.push(chunk.toString('latin1')));
    expect(scanner.push(Buffer.from('line one\n'))).toBeNull();
    // Nothing held: a line reaches the caller at once, as over an exec channel.
    expect(delivered.join('')).toBe('line one\n');
    expect(scanner.push(Buffer.from('a\x1fwo'))).toBeNull();
    expect(delivered.join('')).toBe('line one\na');
    // Not the mark after all: the held bytes are output.
    expect(scanner.push(Buffer.from('X\x1fword!'))?.toString()).toBe('!');
    expect(delivered.join('')).toBe('line one\na\x1fwoX');
  });

  it('keeps binary output exact, NULs and mark-like bytes included', () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const { delivered, after } = scan('\x1fmcpd-abc ', [binary, Buffer.from('\x1fmcpd-ab'), Buffer.from('c 7\n')]);
    expect(Buffer.concat(delivered).equals(binary)).toBe(true);
    expect(after?.toString()).toBe('7\n');
  });

  it('refuses an empty mark', () => {
    expect(() => new MarkScanner(Buffer.alloc(0), () => {})).toThrow();
  });
});

describe('ShellOutput', () => {
  it('gives each expectation its share in order and drops what nobody awaits', () => {
    const output = new ShellOutput();
    const greeting: string[] = [];
    const first: string[] = [];
    const second: string[] = [];
    const reached: string[] = [];
    output.expect(
      Buffer.from('\x1fhello\n'),
      (chunk) => greeting.push(chunk.toString()),
      () => reached.push('greeting'),
    );
    output.expect(
      Buffer.from('\x1fone '),
      (chunk) => first.push(chunk.toString()),
      () => reached.push('one'),
    );
    output.push(Buffer.from('profile noise\n\x1fhello\nfirst output\x1fone '));
    expect(greeting.join('')).toBe('profile noise\n');
    expect(first.join('')).toBe('first output');
    expect(reached).toEqual(['greeting', 'one']);
    // Between commands: nobody's.
    output.push(Buffer.from('stray'));
    output.expect(
      Buffer.from('\x1ftwo '),
      (chunk) => second.push(chunk.toString()),
      () => reached.push('two'),
    );
    output.push(Buffer.from('second\x1ftwo '));
    expect(second.join('')).toBe('second');
    expect(reached).toEqual(['greeting', 'one', 'two']);
  });

  it('reads a status line that arrives in pieces', () => {
    const output = new ShellOutput();
    let status = '';
    let done = false;
    output.expect(Buffer.from('\x1fw '), () => {});
    output.expect(
      Buffer.from('\n'),
      (chunk) => {
        status += chunk.toString();
      },
      () => {
        done = true;
      },
    );
    output.push(Buffer.from('x\x1fw 1'));
    expect(done).toBe(false);
    output.push(Buffer.from('27'));
    output.push(Buffer.from('\n'));
    expect(done).toBe(true);
    expect(status).toBe('127');
  });
});
