import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Logger, LogLevel, Random, Redacted, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"

/**
 * The issue-14 scenarios end to end on TestClock: the GrokClient with its default retry policy and an adaptive
 * limiter (`{}`), over the in-process fake Grok, 5 ms latency, `Retry-After` in whole seconds.
 */
interface Run {
  readonly ok: number
  readonly answers429: number
  /** From the first arrival to the last accepted one. */
  readonly spanMillis: number
}

const run = (scenario: FakeGrok.Scenario, calls: number, concurrency: number) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    const fake = yield* FakeGrok.FakeGrok
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: calls }, (_, i) => i),
        (i) => Effect.either(grok.chat({ model: "grok-4", messages: [{ role: "user", content: `call ${i}` }] })),
        { concurrency }
      )
    )
    for (let step = 0; step < 600 && fiber.unsafePoll() === null; step++) yield* TestClock.adjust("100 millis")
    const results = yield* Fiber.join(fiber)
    const arrivals = (yield* fake.arrivals).filter((a) => a.path === "/v1/chat/completions")
    const accepted = arrivals.filter((a) => a.status === 200)
    return {
      ok: results.filter(Either.isRight).length,
      answers429: arrivals.filter((a) => a.status === 429).length,
      spanMillis: accepted[accepted.length - 1]!.atMillis - arrivals[0]!.atMillis
    } satisfies Run
  }).pipe(
    Effect.provide(
      GrokClient.layer({ apiKey: Redacted.make("test-key") }).pipe(
        Layer.provideMerge(FakeGrok.layerClient({ latencyMillis: 5, retryAfter: "seconds", ...scenario })),
        Layer.provideMerge(RateLimiter.layer({}))
      )
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.withRandom(Random.make(7))
  )

/** 20 requests/s with a burst of 5: 300 calls need (300 − 5) / 20 s at best. */
const quota = { requestsPerSecond: 20, burst: 5 } as const
const IDEAL_MILLIS = ((300 - 5) / 20) * 1000
const TIMEOUT = 120_000

describe("RateLimiter pacing without a configured rate", () => {
  it.effect(
    "paces 300 calls by x-ratelimit headers with OpenAI's meaning: at most 3 answers of 429, within 1.12 × ideal",
    () =>
      Effect.gen(function* () {
        const result = yield* run({ ...quota, rateLimitHeaders: true, limitInBody: false }, 300, 30)
        expect(result.ok).toBe(300)
        expect(result.answers429).toBeLessThanOrEqual(3)
        expect(result.spanMillis / IDEAL_MILLIS).toBeLessThanOrEqual(1.12)
      }),
    TIMEOUT
  )

  it.effect(
    "adapts blind (no headers, 429 bodies that name no limit) within 1.15 × ideal and at most 15 answers of 429",
    () =>
      Effect.gen(function* () {
        const result = yield* run({ ...quota, limitInBody: false }, 300, 30)
        expect(result.ok).toBe(300)
        expect(result.answers429).toBeLessThanOrEqual(15)
        expect(result.spanMillis / IDEAL_MILLIS).toBeLessThanOrEqual(1.15)
      }),
    TIMEOUT
  )

  it.effect(
    "starts fast against a server with room to spare: 40 calls at concurrency 30 within 0.6 s",
    () =>
      Effect.gen(function* () {
        const result = yield* run({}, 40, 30)
        expect(result.ok).toBe(40)
        expect(result.answers429).toBe(0)
        expect(result.spanMillis).toBeLessThanOrEqual(600)
      }),
    TIMEOUT
  )
})
