import { defineConfig } from 'vitest/config';

/** `npm run test:chaos`: the fault-injection scenarios (test/chaos), one file at a time. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts', 'test/chaos/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 900_000,
    hookTimeout: 300_000,
    allowOnly: false,
  },
});
