import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores in CI: process-level parallelism beyond that only adds contention.
    maxWorkers: 2,
    minWorkers: 1
  }
})
