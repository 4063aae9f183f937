import { defineConfig } from 'vitest/config';

// Benchmarks run through vitest only to reuse its TypeScript transform and the test harness;
// they print numbers and assert nothing about speed. `npm run bench`.
export default defineConfig({
  test: {
    include: ['bench/**/*.bench.test.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
