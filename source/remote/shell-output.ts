/**
 * One output stream of a kept shell (ssh-shell.ts), cut into each command's share by the marks
 * the shell prints after it. A mark is a random word no output holds, so a command's bytes pass
 * through as they come, exactly, whether or not they end in a newline; only a tail that could be
 * the start of the awaited mark is held back until the next bytes tell.
 */

/** Finds `mark` in a byte stream, handing on the bytes before it as they arrive. */
export class MarkScanner {
  readonly #mark: Buffer;
  readonly #deliver: (chunk: Buffer) => void;
  #held: Buffer = Buffer.alloc(0);

  constructor(mark: Buffer, deliver: (chunk: Buffer) => void) {
    if (mark.length === 0) throw new Error('a mark needs at least one byte');
    this.#mark = mark;
    this.#deliver = deliver;
  }

  /** The bytes after the mark once it has passed (maybe none), else null: the mark is still to come. */
  push(chunk: Buffer): Buffer | null {
    const data = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    const at = data.indexOf(this.#mark);
    if (at !== -1) {
      if (at > 0) this.#deliver(data.subarray(0, at));
      this.#held = Buffer.alloc(0);
      return data.subarray(at + this.#mark.length);
    }
    const keep = this.#partialMarkAtEnd(data);
    if (data.length > keep) this.#deliver(data.subarray(0, data.length - keep));
    this.#held = Buffer.from(data.subarray(data.length - keep));
    return null;
  }

  /** How many bytes at the end of `data` could be the mark's beginning. */
  #partialMarkAtEnd(data: Buffer): number {
    for (let length = Math.min(this.#mark.length - 1, data.length); length > 0; length -= 1)
      if (data.subarray(data.length - length).equals(this.#mark.subarray(0, length))) return length;
    return 0;
  }
}

type Expectation = { readonly scanner: MarkScanner; readonly reached: () => void };

/**
 * A stream's bytes handed to whoever awaits them, in order: the greeting's discard first, then
 * each command's output up to its mark. Bytes that nobody awaits (between commands) are dropped.
 */
export class ShellOutput {
  readonly #queue: Expectation[] = [];

  /** The next bytes up to `mark` go to `deliver`; `reached` is called once the mark has passed. */
  expect(mark: Buffer, deliver: (chunk: Buffer) => void, reached: () => void = () => {}): void {
    this.#queue.push({ scanner: new MarkScanner(mark, deliver), reached });
  }

  push(chunk: Buffer): void {
    let data: Buffer | null = chunk;
    while (data !== null) {
      const head = this.#queue[0];
      if (head === undefined) return;
      data = head.scanner.push(data);
      if (data === null) return;
      this.#queue.shift();
      head.reached();
      if (data.length === 0 && this.#queue.length > 0) return;
    }
  }

  /** Forgets every expectation: the shell is gone. */
  clear(): void {
    this.#queue.length = 0;
  }
}
