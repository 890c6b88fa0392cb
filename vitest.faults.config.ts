import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`): real agents on hosts made of network
// namespaces, one scenario after another on one farm. It needs root, `ip netns` and
// nftables, runs for several minutes, and so is kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
