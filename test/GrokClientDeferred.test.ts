import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Layer, Redacted } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { clients, onTestClock, seeded } from "./support/batches.js"

const request = (content: string) => ({ model: "grok-4", messages: [{ role: "user" as const, content }] })
const polls = (arrivals: ReadonlyArray<FakeGrok.Arrival>, id: string) =>
  arrivals.filter((a) => a.path === `/v1/chat/deferred-completion/${id}`)

describe("GrokClient deferred completions", () => {
  it.effect("collects 20 completions ready 1.5 s after submission, each its own, in 2 or 3 polls within 1.4 s", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const results = yield* onTestClock(
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) =>
            Effect.map(grok.chatDeferred(request(`question ${i}`)), (result) => ({ i, result })).pipe(
              Effect.zip(Clock.currentTimeMillis)
            ),
          { concurrency: "unbounded" }
        ),
        "50 millis"
      )
      const fake = yield* FakeGrok.FakeGrok
      const arrivals = yield* fake.arrivals
      for (const [{ i, result }, doneAt] of results) {
        expect(result.content).toBe(`echo: question ${i}`)
        expect(result.polls).toBeGreaterThanOrEqual(2)
        expect(result.polls).toBeLessThanOrEqual(3)
        expect(polls(arrivals, result.requestId)).toHaveLength(result.polls)
        expect(doneAt).toBeGreaterThanOrEqual(1500)
        expect(doneAt).toBeLessThanOrEqual(1500 + 1400)
      }
      expect(arrivals.filter((a) => a.path === "/v1/chat/completions")).toHaveLength(20)
    }).pipe(seeded, Effect.provide(clients({ deferredMillis: 1500 })))
  )

  it.effect("polls after about 0.5 s, then ×1.5 to one every 10 s, each delay jittered within [0.8, 1.2)", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const submitted = yield* grok.submitDeferred(request("slow one"))
      const result = yield* onTestClock(grok.awaitDeferred(submitted.requestId), "1 second")
      const fake = yield* FakeGrok.FakeGrok
      const times = polls(yield* fake.arrivals, submitted.requestId).map((a) => a.atMillis)
      const gaps = [times[0]!, ...times.slice(1).map((t, i) => t - times[i]!)]
      gaps.forEach((gap, n) => {
        const nominal = Math.min(500 * 1.5 ** n, 10_000)
        expect(gap).toBeGreaterThanOrEqual(0.8 * nominal)
        expect(gap).toBeLessThan(1.2 * nominal)
      })
      // Two minutes: eight polls to reach the 10 s cap, then one every 8–12 s.
      expect(result.polls).toBe(times.length)
      expect(result.polls).toBeGreaterThan(12)
      expect(result.polls).toBeLessThan(22)
    }).pipe(seeded, Effect.provide(clients({ deferredMillis: 120_000 })))
  )

  it.effect(
    "fails with Validation NotFound naming the id for an unknown id, and for a completion already collected",
    () =>
      Effect.gen(function* () {
        const grok = yield* GrokClient.GrokClient
        const unknown = yield* Effect.flip(onTestClock(grok.awaitDeferred("no-such-request")))
        expect(unknown._tag).toBe("Validation")
        expect(unknown._tag === "Validation" && unknown.reason).toBe("NotFound")
        expect(unknown.message).toContain("no-such-request")
        expect(unknown.message).not.toContain("test-key")
        const submitted = yield* grok.submitDeferred(request("once"))
        yield* onTestClock(grok.awaitDeferred(submitted.requestId))
        const again = yield* Effect.flip(onTestClock(grok.awaitDeferred(submitted.requestId)))
        expect(again.message).toContain("already collected")
        expect(GrokClient.attemptsOf(again)).toBe(1)
      }).pipe(seeded, Effect.provide(clients({ deferredMillis: 0 })))
  )

  it.effect("stops after maxWait with Rejected(DeadlineExceeded), and the completion can be collected later", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const submitted = yield* grok.submitDeferred(request("patience"))
      const error = yield* Effect.flip(onTestClock(grok.awaitDeferred(submitted.requestId, { maxWait: "5 seconds" })))
      expect(error._tag).toBe("Rejected")
      expect(error.message).toContain(submitted.requestId)
      const started = yield* Clock.currentTimeMillis
      expect(started).toBeLessThanOrEqual(5100)
      const later = yield* onTestClock(grok.awaitDeferred(submitted.requestId), "1 second")
      expect(later.content).toBe("echo: patience")
    }).pipe(seeded, Effect.provide(clients({ deferredMillis: 30_000 })))
  )

  it.effect("admits the submission through the rate limiter but not the polls", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      // One request a minute: admitted polls would wait a minute each.
      const result = yield* onTestClock(grok.chatDeferred(request("metered once")))
      expect(result.content).toBe("echo: metered once")
      expect(yield* Clock.currentTimeMillis).toBeLessThan(5000)
    }).pipe(
      seeded,
      Effect.provide(clients({ deferredMillis: 2000 })),
      Effect.provide(RateLimiter.layer({ requestsPerMinute: 1 }))
    )
  )

  it.effect("retries a failed submission through the pipeline and refuses a bad request or id before sending", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const result = yield* onTestClock(grok.chatDeferred(request("after an outage")), "1 second")
      expect(result.attempts).toBe(2 + result.polls)
      const bad = yield* Effect.flip(grok.submitDeferred({ model: "", messages: [] } as never))
      expect(bad._tag).toBe("Validation")
      const empty = yield* Effect.flip(grok.awaitDeferred(""))
      expect(empty._tag === "Validation" && empty.reason).toBe("InvalidInput")
      const fake = yield* FakeGrok.FakeGrok
      expect((yield* fake.arrivals).filter((a) => a.status === 503)).toHaveLength(1)
      expect(yield* fake.arrivals).toHaveLength(2 + result.polls)
    }).pipe(seeded, Effect.provide(clients({ script: [503], deferredMillis: 1000 })))
  )

  it.live("over a loopback socket: 20 calls ready after 1.5 s are all collected within a few seconds", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.FakeGrok
      const started = Date.now()
      const results = yield* Effect.flatMap(GrokClient.GrokClient, (grok) =>
        Effect.forEach(
          Array.from({ length: 20 }, (_, i) => i),
          (i) => Effect.map(grok.chatDeferred(request(`socket ${i}`)), (result) => ({ i, result })),
          { concurrency: "unbounded" }
        )
      ).pipe(
        Effect.provide(
          GrokClient.layer({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url }).pipe(
            Layer.provide(FetchHttpClient.layer)
          )
        )
      )
      const elapsed = Date.now() - started
      for (const { i, result } of results) {
        expect(result.content).toBe(`echo: socket ${i}`)
        expect(result.polls).toBeLessThanOrEqual(4)
      }
      expect(elapsed).toBeGreaterThanOrEqual(1500)
      expect(elapsed).toBeLessThan(1500 + 5000)
    }).pipe(Effect.provide(FakeGrok.layer({ deferredMillis: 1500 })))
  )
})
