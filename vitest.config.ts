import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

const src = fileURLToPath(new URL("./src/", import.meta.url))

export default defineConfig({
  resolve: {
    // The package's own name, as cli/ and the docs' examples import it: in the checkout, the sources.
    alias: [
      { find: /^grok-resilience$/, replacement: `${src}index.ts` },
      { find: /^grok-resilience\/([\w-]+)$/, replacement: `${src}$1/index.ts` }
    ]
  },
  test: {
    include: ["test/**/*.test.ts", "cli/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores in CI: process-level parallelism beyond that only adds contention.
    maxWorkers: 2,
    minWorkers: 1,
    // Effect's logger prints a line per retry; tests that care capture logs with their own Logger.
    onConsoleLog: (log) => !log.startsWith("timestamp=")
  }
})
