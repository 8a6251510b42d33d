import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FakeGrok } from "grok-resilience/testing"
import { type RedisServer, startRedis } from "../../test/redis/server.js"
import { describeRedis } from "../../test/redis/support.js"
import { answered, freshJob, queue, startWorker, status, waitUntil } from "./queueSupport.js"
import {
  cliCommand,
  disposeCli,
  idCounts,
  prompts,
  readResults,
  type Running,
  runCli,
  tempDir,
  writeInput
} from "./support.js"

describeRedis("grok-resilience queue across a Redis restart", "own", () => {
  let redis: RedisServer
  let dir: string

  beforeAll(async () => {
    dir = tempDir()
    const data = Path.join(dir, "redis")
    Fs.mkdirSync(data)
    ;[redis] = await Promise.all([startRedis({ appendOnlyDir: data }), cliCommand()])
  }, 30_000)

  afterAll(async () => {
    await redis?.stop()
    Fs.rmSync(dir, { recursive: true, force: true })
    disposeCli()
  })

  it("loses nothing when Redis (appendonly yes) is killed and restarted mid-run, with collect running throughout", async () => {
    const fake = await FakeGrok.start({ requestsPerSecond: 60, burst: 5, latencyMillis: 50, retryAfter: "ms" })
    const running: Array<Running> = []
    try {
      const job = freshJob()
      const input = writeInput(Path.join(dir, "prompts.jsonl"), prompts(200))
      expect((await queue("push", [input], redis.url, job)).code).toBe(0)
      const output = Path.join(dir, "results.jsonl")
      const flags = ["--concurrency", "8", "--rpm", "3000", "--reclaim-after", "3s"]
      running.push(...(await Promise.all([1, 2].map(() => startWorker(redis.url, job, fake, flags)))))
      const collect = runCli(["queue", "collect", "--redis", redis.url, "--job", job, "--output", output], {
        timeoutMillis: 90_000
      })
      await waitUntil(async () => ((await status(redis.url, job)).done ?? 0) >= 40, 60_000, "40 results")
      // SIGKILL: whatever Redis acknowledged is in the append-only file (written before each reply).
      await redis.restart()
      const finished = await Promise.all(running.map((worker) => worker.done))
      for (const worker of finished) expect(worker.code, worker.stderr).toBe(0)
      const collected = await collect
      expect(collected.code, collected.stderr).toBe(0)

      const results = readResults(output)
      expect(results).toHaveLength(200)
      expect(results.every((result) => result.ok)).toBe(true)
      expect([...idCounts(results).values()].every((n) => n === 1)).toBe(true)
      expect(await status(redis.url, job)).toMatchObject({ total: 200, done: 200, pending: 0, inFlight: 0 })
      // Calls in flight across the restart may be answered twice, at most one per slot.
      expect(answered(fake)).toBeLessThanOrEqual(216)
    } finally {
      for (const worker of running) worker.child.kill("SIGKILL")
      await fake.close()
    }
  }, 90_000)
})
