/**
 * How the Redis tests decide to run, fail or skip, and what they share.
 */
import { randomUUID } from "node:crypto"
import { describe, it } from "vitest"
import { availability } from "./server.js"

const binary = process.env.REDIS_SERVER_BIN ?? "redis-server"

/** Redis is required (the tests fail instead of skipping): in CI, or with GROK_REQUIRE_REDIS=1. */
export const required = (): boolean => process.env.CI === "true" || process.env.GROK_REQUIRE_REDIS === "1"

/**
 * A `describe` for tests that need a Redis server. `needs: "own"` also needs a server of its own (to kill it): with
 * only `REDIS_URL` such a block is skipped with a printed reason, as a shared server must not be killed. When Redis
 * is required (CI), a block that cannot run fails instead.
 */
export const describeRedis = (name: string, needs: "any" | "own", body: () => void): void => {
  const found = availability()
  if (found.kind === "binary" || (found.kind === "url" && needs === "any")) {
    describe(name, body)
    return
  }
  const reason =
    found.kind === "none" ? found.reason : `no ${binary} binary: these tests kill the server, REDIS_URL is not enough`
  if (required()) {
    describe(name, () => {
      it("has a Redis server to run against", () => {
        throw new Error(`Redis tests cannot run: ${reason} (required because CI=true or GROK_REQUIRE_REDIS=1)`)
      })
    })
    return
  }
  console.warn(`Skipping "${name}": ${reason}`)
  describe.skip(name, body)
}

/** A key prefix of its own for each test, so that tests never see each other's keys (even on a shared server). */
export const freshPrefix = (): string => `grok-resilience-test:${randomUUID().slice(0, 8)}`
