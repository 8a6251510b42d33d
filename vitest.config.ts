import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores in CI: process-level parallelism beyond that only adds contention.
    maxWorkers: 2,
    minWorkers: 1,
    // Effect's logger prints a line per retry; tests that care capture logs with their own Logger.
    onConsoleLog: (log) => !log.startsWith("timestamp=")
  }
})
