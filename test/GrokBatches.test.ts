import { HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Redacted, Schedule, Stream } from "effect"
import * as GrokBatches from "../src/GrokBatches.js"
import * as GrokError from "../src/GrokError.js"
import { errorOf } from "../src/internal/batches/results.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type { RetryPolicy } from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { clients, losingAnswer, onTestClock, quickRetry, scripted, seeded } from "./support/batches.js"

const request = (content: string) => ({ model: "grok-4", messages: [{ role: "user" as const, content }] })
const requests = (n: number, prefix = "r") =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, request: request(`prompt ${prefix}${i}`) }))

const batchesService = GrokBatches.GrokBatches
const noRetry: RetryPolicy = Schedule.stop
const addCalls = (arrivals: ReadonlyArray<FakeGrok.Arrival>) =>
  arrivals.filter((a) => a.method === "POST" && a.path.endsWith("/requests"))

describe("GrokBatches", () => {
  it.effect("adds 250 requests in chunks of 100, waits for the batch and pages each result once", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("nightly")
      const added = yield* batches.add(batch.batch_id, requests(250), { maxChunkRequests: 100 })
      expect(added).toEqual({ added: 250, calls: 3, alreadyPresent: 0 })
      const done = yield* onTestClock(batches.wait(batch.batch_id), "1 second")
      expect(done.state).toMatchObject({ num_requests: 250, num_pending: 0, num_success: 250 })
      const results = Chunk.toArray(yield* Stream.runCollect(batches.results(batch.batch_id, { pageSize: 40 })))
      expect(results).toHaveLength(250)
      expect(new Set(results.map((r) => r.id)).size).toBe(250)
      for (const result of results) {
        expect(result._tag).toBe("Succeeded")
        if (result._tag === "Succeeded") expect(result.content).toBe(`echo: prompt ${result.id}`)
      }
      const fake = yield* FakeGrok.FakeGrok
      const arrivals = yield* fake.arrivals
      expect(addCalls(arrivals).map((a) => a.status)).toEqual([200, 200, 200])
      expect(arrivals.filter((a) => a.path.endsWith("/results"))).toHaveLength(7)
      expect(arrivals.some((a) => a.path === "/v1/chat/completions")).toBe(false)
    }).pipe(Effect.provide(clients({ batches: { processMillis: 1000, spreadMillis: 3000 } })))
  )

  it.effect("splits a chunk by bytes as well as by count", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("big prompts")
      const big = Array.from({ length: 10 }, (_, i) => ({ id: `b${i}`, request: request("x".repeat(3000)) }))
      const added = yield* batches.add(batch.batch_id, big, { maxChunkBytes: 10_000 })
      expect(added.calls).toBe(4)
      expect((yield* batches.get(batch.batch_id)).state.num_requests).toBe(10)
    }).pipe(Effect.provide(clients()))
  )

  it.effect("reconciles a chunk whose answer was lost instead of adding it twice", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("lossy")
      const added = yield* batches.add(batch.batch_id, requests(30), { maxChunkRequests: 10 })
      expect(added).toEqual({ added: 30, calls: 2, alreadyPresent: 10 })
      const listed = Chunk.toArray(yield* Stream.runCollect(batches.requests(batch.batch_id)))
      expect(listed.map((m) => m.batch_request_id)).toEqual(requests(30).map((r) => r.id))
      const fake = yield* FakeGrok.FakeGrok
      expect(addCalls(yield* fake.arrivals).map((a) => a.status)).toEqual([200, 200, 400, 200])
    }).pipe(
      Effect.provide(
        clients(
          {},
          {
            retry: quickRetry,
            wrap: losingAnswer((url, method) => method === "POST" && url.pathname.endsWith("/requests"), 2)
          }
        )
      )
    )
  )

  it.effect("sends the missing part of a chunk only, and fails when none of it landed", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("no retries")
      // Not retried, the lost chunk is looked up in the batch, found there, and not sent again.
      // With no retry the lost chunk is found in the batch: nothing is sent again.
      const added = yield* batches.add(batch.batch_id, requests(5), { retry: noRetry })
      expect(added).toEqual({ added: 5, calls: 0, alreadyPresent: 5 })
      const refused = yield* Effect.flip(batches.add("batch_missing", requests(2, "m"), { retry: noRetry }))
      expect(refused._tag).toBe("Validation")
      expect(refused.status).toBe(404)
    }).pipe(
      Effect.provide(
        clients({}, { wrap: losingAnswer((url, method) => method === "POST" && url.pathname.endsWith("/requests")) })
      )
    )
  )

  it.effect("refuses a bad request, a repeated id or an oversize request before sending its chunk", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("checked")
      const invalid = [...requests(3), { id: "bad", request: { model: "", messages: [] } as never }]
      const bad = yield* Effect.flip(batches.add(batch.batch_id, invalid))
      expect(bad._tag).toBe("Validation")
      expect(bad.message).toContain("batch request bad")
      const twice = yield* Effect.flip(batches.add(batch.batch_id, [...requests(2, "t"), ...requests(1, "t")]))
      expect(twice.message).toContain("t0 is given twice")
      const huge = yield* Effect.flip(
        batches.add(batch.batch_id, [{ id: "h", request: request("y".repeat(5000)) }], { maxChunkBytes: 1000 })
      )
      expect(huge.message).toContain("over maxChunkBytes")
      expect((yield* batches.get(batch.batch_id)).state.num_requests).toBe(0)
    }).pipe(Effect.provide(clients()))
  )

  it.effect("turns failed items into typed errors and keeps the others", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("failing")
      yield* batches.add(batch.batch_id, requests(40))
      yield* onTestClock(batches.wait(batch.batch_id), "1 second")
      const results = Chunk.toArray(yield* Stream.runCollect(batches.results(batch.batch_id)))
      const failed = results.filter((r) => r._tag === "Failed")
      expect(failed.length).toBeGreaterThan(0)
      expect(failed.length).toBeLessThan(40)
      for (const result of failed) if (result._tag === "Failed") expect(result.error._tag).toBe("Transient")
    }).pipe(Effect.provide(clients({ seed: 3, batches: { errorRate: 0.3 } })))
  )

  it.effect("reads a malformed result item as a failure of that item alone", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const results = Chunk.toArray(yield* Stream.runCollect(batches.results("batch_x")))
      expect(results.map((r) => [r.id, r._tag])).toEqual([
        ["ok", "Succeeded"],
        ["weird", "Failed"],
        ["unknown", "Failed"],
        ["key", "Failed"]
      ])
      const [, weird, , key] = results
      if (weird?._tag === "Failed") expect(weird.error.message).toContain("does not match")
      if (key?._tag === "Failed") {
        expect(key.error._tag).toBe("AuthError")
        expect(key.error.message).not.toContain("sk-secret-key")
      }
    }).pipe(
      Effect.provide(
        GrokBatches.layer({ apiKey: Redacted.make("sk-secret-key"), baseUrl: "http://hostile.invalid/v1" }).pipe(
          Layer.provide(
            Layer.succeed(
              HttpClient.HttpClient,
              scripted(() => ({
                status: 200,
                body: JSON.stringify({
                  results: [
                    { batch_request_id: "ok", batch_result: { response: { chat_get_completion: completion("fine") } } },
                    { batch_request_id: "weird", batch_result: { response: { chat_get_completion: { id: 1 } } } },
                    { batch_request_id: "unknown", batch_result: { response: "unknown" } },
                    { batch_request_id: "key", batch_result: { error: "Incorrect API key provided: sk-secret-key" } }
                  ],
                  pagination_token: null
                })
              }))
            )
          )
        )
      )
    )
  )

  it.effect("fails with a typed error when the server repeats a pagination token", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const error = yield* Effect.flip(Stream.runDrain(batches.list()))
      expect(error._tag).toBe("Transient")
      expect(error.message).toContain("twice")
      expect(error.isRetryable).toBe(false)
    }).pipe(
      Effect.provide(
        GrokBatches.layer({ apiKey: Redacted.make("k"), baseUrl: "http://loop.invalid/v1" }).pipe(
          Layer.provide(
            Layer.succeed(
              HttpClient.HttpClient,
              scripted(() => ({ status: 200, body: JSON.stringify({ batches: [], pagination_token: "same" }) }))
            )
          )
        )
      )
    )
  )

  it.effect("does not pass batch calls through the rate limiter", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      // One request a minute: six admitted calls would need five minutes of a clock that does not move.
      const batch = yield* batches.create("unmetered")
      yield* batches.add(batch.batch_id, requests(3))
      for (let i = 0; i < 4; i++) yield* batches.get(batch.batch_id)
      expect((yield* batches.get(batch.batch_id)).state.num_requests).toBe(3)
    }).pipe(
      Effect.provide(clients({ batches: { processMillis: 60_000 } })),
      Effect.provide(RateLimiter.layer({ requestsPerMinute: 1 }))
    )
  )

  it.effect("cancels a running batch: finished results stay, the rest is counted cancelled", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("stop it")
      yield* batches.add(batch.batch_id, requests(100))
      yield* onTestClock(Effect.sleep("2 seconds"), "1 second")
      const cancelled = yield* batches.cancel(batch.batch_id)
      expect(cancelled.cancel_time).toBeTruthy()
      expect(GrokBatches.isFinished(cancelled, 0)).toBe(true)
      const results = yield* Stream.runCount(batches.results(batch.batch_id))
      expect(results).toBe(cancelled.state.num_success + cancelled.state.num_error)
      expect(cancelled.state.num_cancelled).toBe(100 - results)
      expect(cancelled.state.num_cancelled).toBeGreaterThan(0)
    }).pipe(Effect.provide(clients({ batches: { processMillis: 1000, spreadMillis: 2000 } })))
  )

  it.effect("watches a batch at once, then about 1 s, 1.5 s, 2.25 s … later, jittered, up to one look every 30 s", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("slow")
      yield* batches.add(batch.batch_id, requests(1))
      const states = yield* onTestClock(Stream.runCollect(batches.watch(batch.batch_id)), "10 seconds")
      const last = Chunk.toArray(states).at(-1)!
      expect(last.state.num_success).toBe(1)
      const fake = yield* FakeGrok.FakeGrok
      const looks = (yield* fake.arrivals).filter(
        (a) => a.method === "GET" && a.path === `/v1/batches/${batch.batch_id}`
      )
      expect(looks).toHaveLength(Chunk.size(states))
      const gaps = looks.slice(1).map((look, i) => look.atMillis - looks[i]!.atMillis)
      gaps.forEach((gap, n) => {
        const nominal = Math.min(1000 * 1.5 ** n, 30_000)
        expect(gap).toBeGreaterThanOrEqual(0.8 * nominal)
        expect(gap).toBeLessThan(1.2 * nominal)
      })
      // Ten minutes of processing: 10 looks to reach the 30 s cap, then one every 24–36 s.
      expect(looks.length).toBeGreaterThan(20)
      expect(looks.length).toBeLessThan(35)
    }).pipe(seeded, Effect.provide(clients({ batches: { processMillis: 600_000, spreadMillis: 0 } })))
  )

  it.effect("stops watching after maxWait with Rejected(DeadlineExceeded), the batch left running", () =>
    Effect.gen(function* () {
      const batches = yield* batchesService
      const batch = yield* batches.create("endless")
      yield* batches.add(batch.batch_id, requests(2))
      const error = yield* Effect.flip(onTestClock(batches.wait(batch.batch_id, { maxWait: "10 seconds" }), "1 second"))
      expect(error._tag).toBe("Rejected")
      expect(error.message).toContain("2 pending")
      expect((yield* batches.get(batch.batch_id)).state.num_pending).toBe(2)
    }).pipe(seeded, Effect.provide(clients({ batches: { processMillis: 600_000 } })))
  )

  it("maps an item's error wording to a tag: key, credits, rate, server fault, else the request's fault", () => {
    expect(errorOf("Incorrect API key provided", [])._tag).toBe("AuthError")
    expect(errorOf("Your team has used all available credits", [])._tag).toBe("QuotaExhausted")
    expect(errorOf("Rate limit exceeded", [])._tag).toBe("RateLimited")
    expect(errorOf("Internal error while processing the request.", [])._tag).toBe("Transient")
    expect(errorOf("Model grok-9 does not exist", [])._tag).toBe("Validation")
    expect(errorOf("bad key k-123456 here", ["k-123456"]).message).not.toContain("k-123456")
    expect(GrokError.isGrokError(errorOf("x", []))).toBe(true)
  })
})

function completion(content: string) {
  return {
    id: "c1",
    model: "grok-4",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }]
  }
}
