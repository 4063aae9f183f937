import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration tests start real sshd, nginx and Python processes: give them room, and run
    // files in separate processes so one suite's servers can never leak into another's.
    pool: 'forks',
    // Two files at a time, even on 2 cores (vitest would otherwise run one): most of a file's
    // time is spent waiting on real servers, sshd and nginx, not on its own CPU. The whole suite
    // took 897 s this way against 1660 s one at a time, on the same loaded 2-core machine.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
  },
});
