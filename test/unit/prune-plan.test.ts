import { describe, expect, it } from 'vitest';
import { planPrune } from '../../source/host/prune.js';
import type { Release } from '../../source/host/releases.js';

const hashA = 'a'.repeat(64);
const hashB = 'b'.repeat(64);
const hashC = 'c'.repeat(64);

/** A release created on day `day` of November 2026; ids sort with their dates. */
function release(day: number, options: Partial<Release> = {}): Release {
  const dd = String(day).padStart(2, '0');
  return {
    id: `202611${dd}T101500Z-abc1234`,
    createdAt: `2026-11-${dd}T10:15:00Z`,
    gitSha: 'abc1234',
    operator: 'ana',
    requirementsHash: null,
    contract: null,
    depsHash: null,
    install: null,
    files: 3,
    bytes: 100,
    sizeBytes: 4096,
    failed: null,
    tools: null,
    metadata: 'ok',
    problems: [],
    ...options,
  };
}

const failed = { at: '2026-11-01T00:00:00Z', step: 'health', message: 'no' };

describe('planPrune', () => {
  it('keeps the newest `keep` good releases and removes older ones, whatever order they come in', () => {
    const releases = [release(3), release(1), release(5), release(4), release(2)];
    const plan = planPrune(releases, { keep: 3, active: release(5).id, previous: release(4).id });
    expect(plan.releases).toEqual([release(2).id, release(1).id]);
    expect(plan.kept.map((kept) => kept.id)).toEqual([release(5).id, release(4).id, release(3).id]);
    expect(plan.kept[0]?.reasons).toEqual(['active', 'newest']);
  });

  it('always keeps active and previous, even when they are old', () => {
    const releases = [1, 2, 3, 4, 5].map((day) => release(day));
    const plan = planPrune(releases, { keep: 1, active: release(1).id, previous: release(2).id });
    expect(plan.releases).toEqual([release(4).id, release(3).id]);
    expect(new Set(plan.kept.map((kept) => kept.id))).toEqual(new Set([release(5).id, release(2).id, release(1).id]));
  });

  it('does not count failed releases in keep, and keeps only the newest two of them', () => {
    const releases = [
      release(9, { failed }),
      release(8, { failed }),
      release(7, { failed }),
      release(6),
      release(5, { failed }),
      release(4),
      release(3),
    ];
    const plan = planPrune(releases, { keep: 2, active: release(6).id, previous: null });
    // Good: 6 and 4 kept (keep 2), 3 removed. Failed: 9 and 8 kept, 7 and 5 removed.
    expect(plan.releases).toEqual([release(7).id, release(5).id, release(3).id]);
    expect(plan.kept.find((kept) => kept.id === release(9).id)?.reasons).toEqual(['recent-failure']);
    expect(plan.kept.find((kept) => kept.id === release(4).id)?.reasons).toEqual(['newest']);
  });

  it('keeps a failed release that is active or previous, outside the two kept for debugging', () => {
    const releases = [release(5, { failed }), release(4, { failed }), release(3, { failed }), release(2)];
    const plan = planPrune(releases, { keep: 1, active: release(2).id, previous: release(3).id });
    expect(plan.releases).toEqual([]);
    expect(plan.kept.find((kept) => kept.id === release(3).id)?.reasons).toEqual(['previous']);
  });

  it('keeps what current or the live lock names', () => {
    const releases = [1, 2, 3, 4].map((day) => release(day));
    const plan = planPrune(releases, { keep: 1, active: null, previous: null, current: release(1).id, lockedRelease: release(2).id });
    expect(plan.releases).toEqual([release(3).id]);
  });

  it('sorts undated hand-made releases last, so they are the first to go', () => {
    const handMade = release(1, { id: 'hand-made', createdAt: null, metadata: 'missing' });
    const plan = planPrune([handMade, release(2), release(3)], { keep: 2, active: null, previous: null });
    expect(plan.releases).toEqual(['hand-made']);
  });

  it('refuses a keep below one', () => {
    expect(() => planPrune([], { keep: 0, active: null, previous: null })).toThrow(/keep/);
  });

  it('removes old upload leftovers but not young ones or the one the lock is writing', () => {
    const plan = planPrune([], {
      keep: 3,
      active: null,
      previous: null,
      lockedRelease: 'r-live',
      garbage: [
        { name: '.r-old.partial', ageSeconds: 7200 },
        { name: '.r-young.partial', ageSeconds: 60 },
        { name: '.r-live.partial', ageSeconds: 99_999 },
        { name: '.r-unknown-age.partial', ageSeconds: null },
        { name: '.r-gone.removing', ageSeconds: 5 },
        { name: '.some-other-dot-dir', ageSeconds: 99_999 },
      ],
    });
    expect(plan.garbage).toEqual(['.r-old.partial', '.r-gone.removing']);
    expect(plan.notes.join('\n')).toContain('.r-live.partial left');
  });

  it('removes venvs no remaining release uses, keeping young ones and ones in use', () => {
    const releases = [
      release(3, { requirementsHash: hashA }),
      release(2, { requirementsHash: hashB }),
      release(1, { requirementsHash: hashC }),
    ];
    const plan = planPrune(releases, {
      keep: 1,
      active: release(3).id,
      previous: release(2).id,
      venvs: [
        { name: hashA, ageSeconds: 99_999 },
        { name: hashB, ageSeconds: 99_999 },
        { name: hashC, ageSeconds: 99_999 },
        { name: 'd'.repeat(64), ageSeconds: 10 },
        { name: `.${hashA}.tmp-x1`, ageSeconds: 10 },
        { name: `.${hashC}.tmp-x2`, ageSeconds: 4000 },
        { name: 'not-a-venv', ageSeconds: 99_999 },
      ],
    });
    expect(plan.releases).toEqual([release(1).id]);
    expect(plan.venvs).toEqual([hashC, `.${hashC}.tmp-x2`]);
  });

  it('leaves every venv when a remaining release has an unreadable release.json', () => {
    const releases = [release(2, { metadata: 'invalid', createdAt: null }), release(1, { requirementsHash: hashA })];
    const plan = planPrune(releases, { keep: 2, active: null, previous: null, venvs: [{ name: hashC, ageSeconds: 99_999 }] });
    expect(plan.venvs).toEqual([]);
    expect(plan.notes.join('\n')).toMatch(/unreadable release\.json/);
  });

  it('removes install folders (shared/deps) no remaining release links, once they are old enough', () => {
    const releases = [release(3, { depsHash: hashA }), release(2, { depsHash: hashB }), release(1, { depsHash: hashC })];
    const plan = planPrune(releases, {
      keep: 1,
      active: release(3).id,
      previous: release(2).id,
      deps: [
        { name: hashA, ageSeconds: 99_999 },
        { name: hashB, ageSeconds: 99_999 },
        { name: hashC, ageSeconds: 99_999 },
        { name: 'd'.repeat(64), ageSeconds: 10 },
        { name: `.${hashC}.tmp-pruning`, ageSeconds: 4000 },
      ],
    });
    expect(plan.releases).toEqual([release(1).id]);
    expect(plan.deps).toEqual([hashC, `.${hashC}.tmp-pruning`]);
    expect(plan.venvs).toEqual([]);
    expect(plan.notes).toContain(`install folder ${'d'.repeat(64)} left: unused but built less than 60 minutes ago`);
  });
});
