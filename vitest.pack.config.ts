import { defineConfig } from 'vitest/config';

// `npm run test:pack`: the packed package installed with npm into an empty project
// (test/pack/). It compiles SQLite and the addon, so it takes minutes and is kept out of
// `npm test`; .ci/run runs it.
export default defineConfig({
  test: {
    include: ['test/pack/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    sequence: { concurrent: false },
    reporters: ['default'],
  },
});
