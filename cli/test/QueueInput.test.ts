import { afterAll, beforeAll, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { FakeGrok } from "grok-resilience/testing"
import { acquireServer } from "../../test/redis/server.js"
import { describeRedis } from "../../test/redis/support.js"
import { freshJob, pendingByConsumer, queue, startWorker, status, waitUntil } from "./queueSupport.js"
import { cliCommand, disposeCli, idCounts, readResults, tempDir, writeInput } from "./support.js"

describeRedis("grok-resilience queue push, collect and interruption", "any", () => {
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

  it("stores bad lines as error results, refuses a changed line under a known id, and collects resumably", async () => {
    const job = freshJob()
    const good = [0, 1, 2].map((i) => ({ id: `p${i}`, prompt: `prompt ${i}` }))
    const input = writeInput(Path.join(dir, "mixed.jsonl"), [...good, "{not json", { id: "p1", prompt: "again" }])
    const pushed = await queue("push", [input], redis.url, job)
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stderr).toContain("2 input lines were refused")
    expect(await status(redis.url, job)).toMatchObject({ total: 5, pending: 3, done: 2, failed: 2 })

    const changed = writeInput(Path.join(dir, "changed.jsonl"), [{ id: "p0", prompt: "another prompt" }])
    const conflict = await queue("push", [changed], redis.url, job)
    expect(conflict.code).toBe(1)
    expect(conflict.stderr).toContain('already in the job with other content and were not pushed: "p0"')
    expect((await status(redis.url, job)).total).toBe(5)

    const output = Path.join(dir, "mixed-results.jsonl")
    for (let run = 0; run < 2; run++) {
      const partial = await queue("collect", ["--output", output, "--once"], redis.url, job)
      expect(partial.code).toBe(1)
      expect(readResults(output)).toHaveLength(2)
    }
    const refused = readResults(output)
    expect(refused.map((line) => line.line)).toEqual([4, 5])
    expect(refused.every((line) => line.error?.reason === "InvalidInput")).toBe(true)

    const fake = await FakeGrok.start()
    try {
      const worker = await startWorker(redis.url, job, fake)
      expect((await worker.done).code).toBe(0)
    } finally {
      await fake.close()
    }
    const complete = await queue("collect", ["--output", output], redis.url, job)
    expect(complete.code).toBe(1) // two failures among the results, as batch exits
    const results = readResults(output)
    expect(results).toHaveLength(5)
    expect([...idCounts(results).entries()].filter(([id]) => id !== null).every(([, n]) => n === 1)).toBe(true)
    expect(results.filter((line) => line.ok).map((line) => line.content)).toEqual(
      expect.arrayContaining(["echo: prompt 0", "echo: prompt 1", "echo: prompt 2"])
    )
  }, 60_000)

  it("hands its unfinished items back at once on SIGTERM", async () => {
    const job = freshJob()
    const input = writeInput(
      Path.join(dir, "slow.jsonl"),
      Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, prompt: `slow ${i}` }))
    )
    expect((await queue("push", [input], redis.url, job)).code).toBe(0)
    const fake = await FakeGrok.start({ latencyMillis: 20_000 })
    try {
      const worker = await startWorker(redis.url, job, fake, ["--concurrency", "4", "--reclaim-after", "10m"])
      const held = async () => [...(await pendingByConsumer(redis.url, job)).values()].reduce((a, b) => a + b, 0)
      await waitUntil(async () => (await held()) === 4, 30_000, "4 items in flight")
      worker.child.kill("SIGTERM")
      const stopped = await worker.done
      expect(stopped.code).toBe(143)
      expect(stopped.stderr).toContain("4 unfinished items handed back")
      // Pending again now, not after --reclaim-after (10 minutes).
      expect(await status(redis.url, job)).toMatchObject({ total: 10, pending: 10, inFlight: 0, done: 0 })
    } finally {
      await fake.close()
    }
  }, 60_000)
})
