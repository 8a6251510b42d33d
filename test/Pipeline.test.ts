import { HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Fiber, Layer, Redacted, Schedule, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { completion } from "./support/completion.js"
import { hello, withFake } from "./support/client.js"

/** An HttpClient that answers every request at once and records the Clock time it was sent at (a unit double). */
const recordingHttp = (sentAt: Array<number>) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sentAt.push(now)
        return HttpClientResponse.fromWeb(
          request,
          new Response(JSON.stringify(completion), { headers: { "content-type": "application/json" } })
        )
      })
    )
  )

const options = {
  apiKey: Redacted.make("xai-test-key-000000"),
  baseUrl: "http://127.0.0.1:9/v1",
  retry: RetryPolicy.none
}
const limiter = RateLimiter.layer({ requestsPerSecond: 4 })

/** Runs 12 calls in virtual time through the client from `layer` and returns when each was sent. */
const twelveCalls = (layer: (sentAt: Array<number>) => Layer.Layer<GrokClient.GrokClient, unknown>) =>
  Effect.gen(function* () {
    const sentAt: Array<number> = []
    const program = Effect.flatMap(GrokClient.GrokClient, (grok) =>
      Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) => grok.chat(hello(`call ${i}`)),
        {
          concurrency: "unbounded"
        }
      )
    )
    const fiber = yield* Effect.fork(Effect.provide(program, layer(sentAt)))
    yield* TestClock.adjust("10 seconds")
    yield* Fiber.join(fiber)
    return sentAt
  })

describe("the call pipeline", () => {
  describe("retries only what may be retried, whatever Schedule is passed", () => {
    it.scopedLive("a wrong key with Schedule.forever as the client's policy makes exactly one request", () =>
      Effect.gen(function* () {
        const { fake, grok } = yield* withFake(
          {},
          { retry: Schedule.forever, apiKey: Redacted.make("xai-wrong-key-1234567") }
        )
        const result = yield* Effect.either(grok.chat(hello()))
        expect(Either.isLeft(result) && result.left._tag).toBe("AuthError")
        expect((yield* fake.arrivals).length).toBe(1)
        expect(Either.isLeft(result) && GrokClient.attemptsOf(result.left)).toBe(1)
      })
    )

    it.scopedLive("a wrong key with a per-call Schedule.spaced and with withPolicy makes one request each", () =>
      Effect.gen(function* () {
        const { fake, grok } = yield* withFake({}, { apiKey: Redacted.make("xai-wrong-key-1234567") })
        const perCall = yield* Effect.either(grok.chat(hello(), { retry: Schedule.spaced("10 millis") }))
        const scoped = yield* Effect.either(grok.chat(hello()).pipe(RetryPolicy.withPolicy(Schedule.forever)))
        expect([perCall, scoped].map((r) => Either.isLeft(r) && r.left._tag)).toEqual(["AuthError", "AuthError"])
        expect((yield* fake.arrivals).length).toBe(2)
      })
    )

    it.scopedLive("spent credits and a 422 are tried once under Schedule.exponential", () =>
      Effect.gen(function* () {
        const { fake, grok } = yield* withFake(
          { script: ["quota-exhausted-429", 422] },
          { retry: Schedule.exponential("1 millis") }
        )
        const credits = yield* Effect.either(grok.chat(hello("one")))
        const invalid = yield* Effect.either(grok.chat(hello("two")))
        expect(Either.isLeft(credits) && credits.left._tag).toBe("QuotaExhausted")
        expect(Either.isLeft(invalid) && invalid.left._tag).toBe("Validation")
        expect((yield* fake.arrivals).length).toBe(2)
      })
    )

    it.effect("x-should-retry: true still lets a raw Schedule retry a 422", () =>
      Effect.gen(function* () {
        const sentAt: Array<number> = []
        const answers = [
          new Response('{"error":"try again"}', { status: 422, headers: { "x-should-retry": "true" } }),
          new Response(JSON.stringify(completion), { headers: { "content-type": "application/json" } })
        ]
        const http = Layer.succeed(
          HttpClient.HttpClient,
          HttpClient.make((request) =>
            Effect.sync(() => {
              sentAt.push(sentAt.length)
              return HttpClientResponse.fromWeb(request, answers[sentAt.length - 1]!)
            })
          )
        )
        const result = yield* Effect.flatMap(GrokClient.GrokClient, (grok) => grok.chat(hello())).pipe(
          Effect.provide(GrokClient.layer({ ...options, retry: Schedule.recurs(3) }).pipe(Layer.provide(http)))
        )
        expect(result.attempts).toBe(2)
        expect(sentAt.length).toBe(2)
      })
    )

    it.effect("retryAfterFloor accepts an input-aware Schedule over GrokError", () =>
      Effect.gen(function* () {
        const onlyRateLimits = Schedule.recurWhile((error: { readonly _tag: string }) => error._tag === "RateLimited")
        const policy: RetryPolicy.RetryPolicy = RetryPolicy.retryAfterFloor(onlyRateLimits)
        expect(Schedule.isSchedule(policy)).toBe(true)
      })
    )
  })

  describe("uses the RateLimiter wherever it is in the context", () => {
    it.effect("paces calls with the limiter provided to the client layer", () =>
      Effect.gen(function* () {
        const sentAt = yield* twelveCalls((sent) =>
          GrokClient.layer(options).pipe(Layer.provide(limiter), Layer.provide(recordingHttp(sent)))
        )
        expect(sentAt.length).toBe(12)
        expect(Math.max(...sentAt) - Math.min(...sentAt)).toBeGreaterThanOrEqual(2750)
      })
    )

    it.effect("paces calls with the limiter merged beside the client layer", () =>
      Effect.gen(function* () {
        const sentAt = yield* twelveCalls((sent) =>
          Layer.mergeAll(GrokClient.layer(options), limiter).pipe(Layer.provide(recordingHttp(sent)))
        )
        expect(Math.max(...sentAt) - Math.min(...sentAt)).toBeGreaterThanOrEqual(2750)
      })
    )

    it.effect("paces calls with the limiter provided to the program around the calls", () =>
      Effect.gen(function* () {
        const sentAt: Array<number> = []
        const client = GrokClient.layer(options).pipe(Layer.provide(recordingHttp(sentAt)))
        const program = Effect.flatMap(GrokClient.GrokClient, (grok) =>
          Effect.forEach(
            Array.from({ length: 12 }, (_, i) => i),
            (i) => grok.chat(hello(`call ${i}`)),
            {
              concurrency: "unbounded"
            }
          ).pipe(Effect.provide(limiter))
        )
        const fiber = yield* Effect.fork(Effect.provide(program, client))
        yield* TestClock.adjust("10 seconds")
        yield* Fiber.join(fiber)
        expect(Math.max(...sentAt) - Math.min(...sentAt)).toBeGreaterThanOrEqual(2750)
      })
    )

    it.effect("admits everything at once with no limiter anywhere", () =>
      Effect.gen(function* () {
        const sentAt = yield* twelveCalls((sent) => GrokClient.layer(options).pipe(Layer.provide(recordingHttp(sent))))
        expect(sentAt.length).toBe(12)
        expect(new Set(sentAt).size).toBe(1)
      })
    )
  })
})
