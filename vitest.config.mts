import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'agent/**/*.test.ts', 'manager/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
          globalSetup: ['test/harness/unit-tmpdir.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          // One real Docker engine and a few real processes: run the files one after another.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
