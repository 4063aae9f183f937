import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LogStore } from '../../source/ui/log-store.js';
import { initialLogView, logWindow, type ScrollKey, scrollLog } from '../../source/ui/log-view.js';

/**
 * The log pane's filter over the ring: whatever was pushed (past the ring's capacity too) and
 * however the operator scrolls, the matching lines appear once each, oldest first, and the window
 * shows a run of them in order.
 */
describe('the filtered log', () => {
  it('shows each matching line once, in order, through pushes past capacity and any scrolling', () => {
    const keys: ScrollKey[] = ['up', 'down', 'pageUp', 'pageDown', 'home', 'end'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.array(fc.constantFrom('GET /mcp 200', 'error: boom', 'POST /mcp 400', 'ERROR again'), { maxLength: 200 }),
        fc.array(fc.constantFrom(...keys), { maxLength: 20 }),
        fc.integer({ min: 1, max: 15 }),
        (capacity, lines, scrolls, height) => {
          const store = new LogStore(capacity);
          let view = { ...initialLogView, filter: 'error' };
          lines.forEach((line, index) => {
            store.push('server', `${index} ${line}`);
            if (index % 7 === 0 && scrolls.length > 0) {
              view = scrollLog(view, scrolls[index % scrolls.length]!, store.entries(view.filter), height);
            }
          });
          const entries = store.entries(view.filter);
          const seqs = entries.map((entry) => entry.seq);
          expect(new Set(seqs).size).toBe(seqs.length);
          expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
          for (const entry of entries) expect(entry.text.toLowerCase()).toContain('error');
          // Exactly the matching lines still in the ring.
          const held = lines.map((line, index) => ({ line, index })).slice(-capacity);
          expect(entries.map((entry) => entry.text)).toEqual(
            held.filter(({ line }) => line.toLowerCase().includes('error')).map(({ line, index }) => `${index} ${line}`),
          );
          const window = logWindow(entries, view, height);
          const shown = window.lines.map((entry) => entry.seq);
          expect(window.lines.length).toBeLessThanOrEqual(height);
          expect(shown).toEqual(seqs.slice(window.above, window.above + shown.length));
          expect(window.above + shown.length + window.below).toBe(entries.length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
