import type { Key } from 'ink';
import type { ScrollKey } from './log-view.js';

/** The scrolling keys shared by every pane: arrows, pages, home and end (and vi's j/k). */
export function scrollKeyOf(input: string, key: Key): ScrollKey | null {
  if (key.upArrow || input === 'k') return 'up';
  if (key.downArrow || input === 'j') return 'down';
  if (key.pageUp) return 'pageUp';
  if (key.pageDown) return 'pageDown';
  if (key.home) return 'home';
  if (key.end) return 'end';
  return null;
}

export function isCtrlC(input: string, key: Key): boolean {
  return key.ctrl && input === 'c';
}
