import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FakeGrok } from "grok-resilience/testing"
import { acquireServer } from "../../test/redis/server.js"
import { describeRedis, freshPrefix } from "../../test/redis/support.js"
import {
  cliCommand,
  disposeCli,
  idCounts,
  jsonSummary,
  prompts,
  readResults,
  runCli,
  tempDir,
  writeInput
} from "./support.js"

describeRedis("grok-resilience batch with --redis", "any", () => {
  let redis: Awaited<ReturnType<typeof acquireServer>>
  let fake: FakeGrok.Started
  let dir: string

  beforeAll(async () => {
    dir = tempDir()
    ;[redis, fake] = await Promise.all([
      acquireServer(),
      FakeGrok.start({ requestsPerSecond: 10, burst: 2, retryAfter: "ms" }),
      cliCommand()
    ])
  }, 30_000)

  afterAll(async () => {
    await Promise.all([redis?.close(), fake?.close()])
    Fs.rmSync(dir, { recursive: true, force: true })
    disposeCli()
  })

  it("lets two workers share one quota so that together they stay under it", async () => {
    const key = freshPrefix().replace(/:/g, "-")
    const worker = (n: number) => {
      const input = writeInput(Path.join(dir, `part-${n}.jsonl`), prompts(25, `w${n}-`))
      const output = Path.join(dir, `results-${n}.jsonl`)
      const args = ["batch", input, "--output", output, "--base-url", fake.url, "--api-key", fake.apiKey]
      return runCli([...args, "--redis", redis.url, "--limiter-key", key, "--rpm", "540", "--json-summary"]).then(
        (result) => ({ result, output })
      )
    }
    const runs = await Promise.all([worker(1), worker(2)])
    for (const { result, output } of runs) {
      expect(result.code).toBe(0)
      expect(result.stderr).toContain("through Redis")
      const results = readResults(output)
      expect(results).toHaveLength(25)
      expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
    }
    // 2 × 9 requests per second unshared would be 18/s against a 10/s quota: about half would get 429.
    const rateLimited = runs.reduce((sum, run) => sum + jsonSummary(run.result.stdout).rateLimited429, 0)
    const sent = Effect.runSync(fake.arrivals).filter((arrival) => arrival.path === "/v1/chat/completions")
    expect(rateLimited).toBe(sent.filter((arrival) => arrival.status === 429).length)
    expect(rateLimited).toBeLessThanOrEqual(3)
  })
})
