/**
 * The containment outcomes of issue 12 over real loopback HTTP against the fake Grok server, with the client's
 * defaults (its own breaker and retry budget, the standard retry policy, no rate limiter). The outages are shorter
 * than the so that the tests stay quick; the 5 s and 30 s figures are in `npm run bench` and, on
 * TestClock, in PipelineBreaker.test.ts.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"

const prompt = (index: number) => ({ model: "grok-4", messages: [{ role: "user" as const, content: `call ${index}` }] })

const runAll = (grok: GrokClient.Service, calls: number, concurrency: number) =>
  Effect.forEach(
    Array.from({ length: calls }, (_, index) => index),
    (index) => Effect.either(grok.chat(prompt(index))),
    { concurrency }
  ).pipe(
    Effect.map((results) => ({
      ok: results.filter(Either.isRight).map((result) => result.right),
      failed: results.filter(Either.isLeft).map((result) => result.left)
    }))
  )

const client = (fake: FakeGrok.Service, options: Partial<GrokClient.Options> = {}) =>
  GrokClient.make({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url, ...options }).pipe(
    Effect.provide(FetchHttpClient.layer)
  )

const chatArrivals = (fake: FakeGrok.Service) =>
  Effect.map(fake.arrivals, (arrivals) => arrivals.filter((a) => a.path === "/v1/chat/completions"))

describe("containment over loopback", () => {
  it.scopedLive("an outage that recovers: 100 calls at concurrency 20 all succeed, at most 1.2 requests a call", () =>
    Effect.gen(function* () {
      // The script fails the first sends whatever the machine's speed; the outage fails what follows for 800 ms.
      const fake = yield* FakeGrok.make({
        script: Array.from({ length: 5 }, () => "503" as const),
        outages: [{ fromMillis: 0, toMillis: 800 }]
      })
      const { ok } = yield* runAll(yield* client(fake), 100, 20)
      const arrivals = yield* chatArrivals(fake)
      expect(ok.length).toBe(100)
      // The cold start lets 5 out, and their failures open the breaker before the rest of the first wave is sent;
      // probes every 500 ms find the service back: a handful of failures in all, not a wave of 20.
      const failed = arrivals.filter((a) => a.kind !== "ok").length
      expect(failed).toBeGreaterThanOrEqual(5)
      expect(failed).toBeLessThanOrEqual(5 + 3)
      expect(arrivals.length).toBeLessThanOrEqual(120)
    })
  )

  it.scopedLive("an outage longer than the deadline: every call fails typed by it, at most 1.3 requests a call", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.make({ outages: [{ fromMillis: 0, toMillis: 600_000 }] })
      const { failed } = yield* runAll(yield* client(fake, { deadline: "1500 millis" }), 100, 20)
      expect(failed.length).toBe(100)
      const reasons = new Set(failed.map((error) => (error._tag === "Rejected" ? error.reason : error._tag)))
      expect([...reasons].filter((reason) => reason !== "CircuitOpen" && reason !== "DeadlineExceeded")).toEqual([])
      expect((yield* chatArrivals(fake)).length).toBeLessThanOrEqual(130)
    })
  )

  it.scopedLive("grok-4 down for the whole run: 100/100 answered by grok-4-fast, at most 25 requests to grok-4", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.make({ outages: [{ fromMillis: 0, toMillis: 600_000, models: ["grok-4"] }] })
      const { ok } = yield* runAll(yield* client(fake, { fallbackModels: ["grok-4-fast"] }), 100, 20)
      expect(ok.length).toBe(100)
      expect(ok.every((result) => result.model === "grok-4-fast")).toBe(true)
      const arrivals = yield* chatArrivals(fake)
      expect(arrivals.filter((a) => a.kind === "outage").length).toBeLessThanOrEqual(25)
      expect(arrivals.filter((a) => a.kind === "ok").length).toBe(100)
    })
  )

  it.scopedLive("old key refused, refreshApiKey yields the new one: 50/50 ok at concurrency 20 with one refresh", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.make({ apiKey: "xai-new-key-loopback-3333333333" })
      let refreshes = 0
      const refreshApiKey = Effect.sync(() => {
        refreshes++
        return Redacted.make("xai-new-key-loopback-3333333333")
      })
      const grok = yield* client(fake, { apiKey: Redacted.make("xai-old-key-loopback-4444444444"), refreshApiKey })
      const { ok } = yield* runAll(grok, 50, 20)
      expect(ok.length).toBe(50)
      expect(refreshes).toBe(1)
      expect((yield* chatArrivals(fake)).filter((a) => a.kind === "auth").length).toBeLessThanOrEqual(20)
    })
  )

  it.scopedLive("a refresh that yields another refused key: every call AuthError, at most two requests a call", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.make({ apiKey: "xai-accepted-key-5555555555" })
      let refreshes = 0
      const refreshApiKey = Effect.sync(() => {
        refreshes++
        return Redacted.make("xai-also-refused-6666666666")
      })
      const grok = yield* client(fake, { apiKey: Redacted.make("xai-refused-key-7777777777"), refreshApiKey })
      const { failed } = yield* runAll(grok, 50, 20)
      expect(failed.length).toBe(50)
      expect(failed.every((error) => error._tag === "AuthError")).toBe(true)
      // The refreshed key, refused too, is not refreshed again within 10 s: one refresh for the whole run.
      expect(refreshes).toBe(1)
      expect((yield* chatArrivals(fake)).length).toBeLessThanOrEqual(100)
    })
  )
})
