/**
 * Turns a byte stream into lines without splitting multi-byte characters, for both transports'
 * `stream`. `end` flushes a last line that had no newline.
 */
export function splitLines(onLine: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  const decoder = new TextDecoder('utf-8');
  let pending = '';
  return {
    push: (chunk) => {
      pending += decoder.decode(chunk, { stream: true });
      let newline = pending.indexOf('\n');
      while (newline !== -1) {
        onLine(pending.slice(0, newline).replace(/\r$/, ''));
        pending = pending.slice(newline + 1);
        newline = pending.indexOf('\n');
      }
    },
    end: () => {
      pending += decoder.decode();
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}
