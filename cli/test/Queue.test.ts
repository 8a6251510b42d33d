import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FakeGrok } from "grok-resilience/testing"
import { acquireServer } from "../../test/redis/server.js"
import { describeRedis } from "../../test/redis/support.js"
import { answered, freshJob, pendingByConsumer, queue, startWorker, status, waitUntil } from "./queueSupport.js"
import { cliCommand, disposeCli, idCounts, prompts, readResults, type Running, tempDir, writeInput } from "./support.js"

describeRedis("grok-resilience queue", "own", () => {
  let redis: Awaited<ReturnType<typeof acquireServer>>
  let dir: string

  beforeAll(async () => {
    dir = tempDir()
    ;[redis] = await Promise.all([acquireServer(), cliCommand()])
  }, 30_000)

  afterAll(async () => {
    await redis?.close()
    Fs.rmSync(dir, { recursive: true, force: true })
    disposeCli()
  })

  it("finishes 600 prompts with 3 workers when one is SIGKILLed after 2 s, each id collected once", async () => {
    // 95 requests per second shared by the workers against a server that allows 100: about 6 s of work.
    const fake = await FakeGrok.start({ requestsPerSecond: 100, burst: 5, latencyMillis: 100, retryAfter: "ms" })
    const workers: Array<Running> = []
    try {
      const job = freshJob()
      const input = writeInput(Path.join(dir, "prompts.jsonl"), prompts(600))
      for (let push = 0; push < 2; push++) {
        const pushed = await queue("push", [input], redis.url, job)
        expect(pushed.code).toBe(0)
      }
      expect(await status(redis.url, job)).toMatchObject({ total: 600, pending: 600, done: 0 })

      const flags = ["--concurrency", "8", "--rpm", "5700", "--reclaim-after", "2s"]
      workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker(redis.url, job, fake, flags)))))
      const victim = workers[0]!
      const heldByVictim = async () =>
        [...(await pendingByConsumer(redis.url, job))].find(([name]) => name.includes(`-${victim.child.pid}-`))?.[1] ??
        0
      // Processes take a second or more to start on a loaded machine: the 2 s count from the victim's first item.
      await waitUntil(async () => (await heldByVictim()) > 0, 30_000, "the victim's first item")
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      const held = await heldByVictim()
      victim.child.kill("SIGKILL")
      const killed = await victim.done
      expect(killed.signal).toBe("SIGKILL")
      // The test means something only if the dead worker held items that the others had to reclaim.
      expect(held).toBeGreaterThan(0)

      const survivors = await Promise.all(workers.slice(1).map((worker) => worker.done))
      for (const survivor of survivors) expect(survivor.code, survivor.stderr).toBe(0)
      expect(survivors.map((s) => s.stderr).join("")).toMatch(/items reclaimed from stopped workers/)

      const output = Path.join(dir, "results.jsonl")
      const collected = await queue("collect", ["--output", output], redis.url, job)
      expect(collected.code, collected.stderr).toBe(0)
      const results = readResults(output)
      expect(results).toHaveLength(600)
      expect(results.every((result) => result.ok)).toBe(true)
      const counts = idCounts(results)
      expect(counts.size).toBe(600)
      expect([...counts.values()].every((n) => n === 1)).toBe(true)
      // At most the dead worker's in-flight calls (8) were answered twice.
      expect(answered(fake)).toBeLessThanOrEqual(608)
      expect(await status(redis.url, job)).toMatchObject({ total: 600, pending: 0, inFlight: 0, done: 600, failed: 0 })
    } finally {
      for (const worker of workers) worker.child.kill("SIGKILL")
      await fake.close()
    }
  }, 90_000)
})
