import type { Key } from 'ink';

/**
 * One line of text edited by a key: insert (typed or pasted), delete both ways, move, clear.
 * Null: not an editing key. `submit`: the paste ended with a line break (a value copied with its
 * Enter), which answers the field as Enter would.
 */
export function editLine(value: string, cursor: number, input: string, key: Key): { value: string; cursor: number; submit?: true } | null {
  if (key.leftArrow) return { value, cursor: Math.max(0, cursor - 1) };
  if (key.rightArrow) return { value, cursor: Math.min(value.length, cursor + 1) };
  if (key.home || (key.ctrl && input === 'a')) return { value, cursor: 0 };
  if (key.end || (key.ctrl && input === 'e')) return { value, cursor: value.length };
  if (key.ctrl && input === 'u') return { value: '', cursor: 0 };
  if (key.ctrl && input === 'w') {
    const start = value.slice(0, cursor).replace(/\S+\s*$/, '').length;
    return { value: value.slice(0, start) + value.slice(cursor), cursor: start };
  }
  if (key.backspace)
    return cursor === 0 ? { value, cursor } : { value: value.slice(0, cursor - 1) + value.slice(cursor), cursor: cursor - 1 };
  if (key.delete) return { value: value.slice(0, cursor) + value.slice(cursor + 1), cursor };
  if (key.ctrl || key.meta || key.escape || key.tab || key.return || key.upArrow || key.downArrow || key.pageUp || key.pageDown)
    return null;
  // A paste arrives as one input; line breaks and control characters have no place in a one-line answer.
  const typed = input.replace(/[\u0000-\u001f\u007f]/g, '');
  if (typed === '') return null;
  const submit = /[\r\n]$/.test(input);
  return { value: value.slice(0, cursor) + typed + value.slice(cursor), cursor: cursor + typed.length, ...(submit ? { submit } : {}) };
}
