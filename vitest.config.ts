import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit`: everything without a real agent process — pure rules, the stores
 * (real SQLite files and the machine's PostgreSQL), and the broker driven by the scripted
 * backend on a manual clock; fast (`npm run test:unit`). `e2e`: the real Claude Code binary
 * against the mock Messages API, real daemons, real sockets (`*.e2e.test.ts`).
 */
const E2E = ['test/**/*.e2e.test.ts'];

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // The fast project runs first; a failure there is reported before the slow one starts.
          sequence: { groupOrder: 0 },
          // Mostly waiting on SQLite fsyncs and PostgreSQL round trips: two files at once on two cores.
          maxWorkers: 2,
          include: ['test/**/*.test.ts'],
          exclude: E2E,
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          sequence: { groupOrder: 1 },
          include: E2E,
          // End-to-end tests drive the real Claude Code binary (~200 MB each); two cores.
          maxWorkers: 2,
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
