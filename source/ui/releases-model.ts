import type { ReleaseRow } from './engine-port.js';
import { chooseRelease } from './engine-port.js';

/**
 * Where the cursor starts: on the release a plain `mcp-deploy rollback` would pick (the previous
 * good one), since that is what an operator opening the browser in a hurry most likely wants.
 */
export function initialCursor(rows: readonly ReleaseRow[], named?: string): { cursor: number; message: string | null } {
  if (named !== undefined) {
    const index = rows.findIndex((row) => row.id === named);
    if (index !== -1) return { cursor: index, message: null };
    return { cursor: defaultCursor(rows), message: `There is no release ${named} on the host.` };
  }
  return { cursor: defaultCursor(rows), message: null };
}

function defaultCursor(rows: readonly ReleaseRow[]): number {
  const previous = rows.findIndex((row) => row.previous && row.failed === null && !row.active);
  if (previous !== -1) return previous;
  try {
    const active = rows.find((row) => row.active)?.id ?? null;
    const pick = chooseRelease(rows, active, undefined);
    return rows.findIndex((row) => row.id === pick.id);
  } catch {
    const active = rows.findIndex((row) => row.active);
    return active === -1 ? 0 : active;
  }
}

/** Why a release cannot be rolled back to, or null when it can. */
export function rollbackRefusal(row: ReleaseRow | undefined): string | null {
  if (row === undefined) return 'There are no releases to roll back to.';
  if (row.active) return `${row.id} is already active.`;
  return null;
}

/** The window of rows to draw so the cursor stays visible, scrolling only when it must. */
export function listWindow(count: number, cursor: number, height: number): { start: number; end: number } {
  if (height <= 0) return { start: 0, end: 0 };
  if (count <= height) return { start: 0, end: count };
  const start = Math.min(Math.max(0, cursor - Math.floor(height / 2)), count - height);
  return { start, end: start + height };
}
