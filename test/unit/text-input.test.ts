import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { editLine } from '../../source/ui/text-input.js';

const none = { return: false, escape: false, ctrl: false, meta: false, tab: false, backspace: false, delete: false } as Key;

describe('editLine', () => {
  it('inserts typed and pasted text at the cursor', () => {
    expect(editLine('mcp.org', 3, '.example', none)).toEqual({ value: 'mcp.example.org', cursor: 11 });
  });

  it('keeps a value pasted with its line break, and says the field was answered', () => {
    expect(editLine('', 0, 'mcp.example.org\r', none)).toEqual({ value: 'mcp.example.org', cursor: 15, submit: true });
    expect(editLine('', 0, '/srv/mcp\n', none)).toEqual({ value: '/srv/mcp', cursor: 8, submit: true });
  });

  it('drops line breaks inside a paste: an answer is one line', () => {
    expect(editLine('', 0, 'a\nb', none)).toEqual({ value: 'ab', cursor: 2 });
  });
});
