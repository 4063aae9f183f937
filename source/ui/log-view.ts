import type { LogEntry } from './log-store.js';

/**
 * Where the log pane looks. While following, it shows the newest lines. Scrolled back, it keeps
 * the sequence number of its bottom line rather than an offset, so lines arriving (and old ones
 * rolling out of the ring) do not move what the operator is reading.
 */
export type LogView = {
  readonly follow: boolean;
  /** Sequence number of the bottom visible line when not following. */
  readonly anchor: number;
  readonly filter: string;
  /** Typing a filter after `/`: keys go to the filter, not to commands. */
  readonly editing: boolean;
};

export const initialLogView: LogView = { follow: true, anchor: 0, filter: '', editing: false };

export type ScrollKey = 'up' | 'down' | 'pageUp' | 'pageDown' | 'home' | 'end';

export type LogWindow = {
  readonly lines: readonly LogEntry[];
  /** Matching lines above and below the window. */
  readonly above: number;
  readonly below: number;
};

/** Index of the bottom visible line in `entries` (which is sorted by seq). */
function bottomIndex(entries: readonly LogEntry[], view: LogView, height: number): number {
  const last = entries.length - 1;
  if (view.follow || last < 0) return last;
  // The newest line at or before the anchor; binary search, as the ring can hold thousands.
  let low = 0;
  let high = last;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (entries[middle]!.seq <= view.anchor) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  // A page is always full when there are enough lines, even if the anchor rolled off the ring.
  return Math.max(found, Math.min(last, height - 1));
}

export function logWindow(entries: readonly LogEntry[], view: LogView, height: number): LogWindow {
  const rows = Math.max(0, height);
  const bottom = bottomIndex(entries, view, rows);
  if (bottom < 0 || rows === 0) return { lines: [], above: Math.max(0, entries.length), below: 0 };
  const start = Math.max(0, bottom - rows + 1);
  return { lines: entries.slice(start, bottom + 1), above: start, below: entries.length - 1 - bottom };
}

export function scrollLog(view: LogView, key: ScrollKey, entries: readonly LogEntry[], height: number): LogView {
  const last = entries.length - 1;
  const rows = Math.max(1, height);
  if (key === 'end' || last < rows) return { ...view, follow: true };
  const page = Math.max(1, rows - 1);
  const current = bottomIndex(entries, view, rows);
  const top = Math.min(last, rows - 1);
  const target =
    key === 'up'
      ? current - 1
      : key === 'down'
        ? current + 1
        : key === 'pageUp'
          ? current - page
          : key === 'pageDown'
            ? current + page
            : top;
  if (target >= last) return { ...view, follow: true };
  const bottom = Math.max(top, target);
  return { ...view, follow: false, anchor: entries[bottom]!.seq };
}

/** A key typed while editing the filter; the filter applies as it is typed. */
export function editFilter(
  view: LogView,
  input: string,
  key: { return: boolean; escape: boolean; backspace: boolean; delete: boolean },
): LogView {
  if (key.return) return { ...view, editing: false };
  if (key.escape) return { ...view, editing: false, filter: '' };
  if (key.backspace || key.delete) return { ...view, filter: view.filter.slice(0, -1) };
  // Printable text only; pasted text arrives as one string.
  const printable = input.replace(/[\u0000-\u001F\u007F]/g, '');
  return printable === '' ? view : { ...view, filter: view.filter + printable };
}
