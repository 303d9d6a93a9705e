import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default on a 2-CPU machine is one worker (CPUs - 1); most of a suite's time is spent waiting on
    // child processes, PostgreSQL and argon2 threads, so two files at a time nearly halve the wall time.
    maxWorkers: 2,
  },
});
