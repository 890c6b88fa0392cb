import { configDefaults, defineConfig } from 'vitest/config';

// Tests import the TypeScript sources directly; the Wasm kernels and the native addon
// come from `npm install` (dist/asm/galaxy.wasm, build/Release/galaxy_native.node).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault suite needs root and network namespaces and runs for minutes: `npm run test:faults`.
    // The tarball installed with npm compiles SQLite: `npm run test:pack`.
    exclude: [...configDefaults.exclude, 'test/faults/**', 'test/pack/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Files run one at a time: several suites start 10-20 real agent processes whose
    // timers must not starve each other on a 2-core machine.
    fileParallelism: false,
    reporters: ['default'],
  },
});
