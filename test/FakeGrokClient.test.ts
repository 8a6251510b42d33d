import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Random, Redacted, TestClock } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"

const hello = (content = "hi") => ({ model: "grok-4", messages: [{ role: "user" as const, content }] })

/** A GrokClient on the in-process fake, and the fake itself for its arrivals. */
const clientOn = (scenario: FakeGrok.Scenario, options: Partial<GrokClient.Options> = {}) =>
  GrokClient.layer({ apiKey: Redacted.make("test-key"), ...options }).pipe(
    Layer.provideMerge(FakeGrok.layerClient(scenario))
  )

const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withRandom(effect, Random.make(42))

/** One raw exchange through the in-process HttpClient. */
const send = (path: string, body?: unknown, key = "test-key") =>
  Effect.gen(function* () {
    const http = yield* HttpClient.HttpClient
    const base = HttpClientRequest.make(body === undefined ? "GET" : "POST")(`http://fake-grok.invalid/v1${path}`)
    const request = HttpClientRequest.bearerToken(
      body === undefined ? base : HttpClientRequest.bodyUnsafeJson(base, body),
      key
    )
    const response = yield* http.execute(request)
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

describe("FakeGrok.layerClient", () => {
  it.effect("answers a chat request in process with a completion that echoes the prompt", () =>
    Effect.gen(function* () {
      const reply = yield* send("/chat/completions", hello("What is 2+2?"))
      expect(reply.status).toBe(200)
      expect(reply.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/)
      const completion = Either.getOrThrow(GrokApi.decodeChatCompletion(JSON.parse(reply.text)))
      expect(completion.choices[0]?.message.content).toBe("echo: What is 2+2?")
    }).pipe(Effect.provide(FakeGrok.layerClient()))
  )

  it.effect("retries three scripted 503s on TestClock and succeeds on the fourth attempt at 0, 1, 3 and 7 s", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const fake = yield* FakeGrok.FakeGrok
      const call = yield* Effect.fork(grok.chat(hello()))
      yield* TestClock.adjust("6999 millis")
      expect(Option.isNone(yield* Fiber.poll(call))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(call)
      expect(result.attempts).toBe(4)
      expect(result.content).toBe("echo: hi")
      const arrivals = yield* fake.arrivals
      expect(arrivals.map((a) => [a.atMillis, a.status])).toEqual([
        [0, 503],
        [1000, 503],
        [3000, 503],
        [7000, 200]
      ])
    }).pipe(
      Effect.provide(
        clientOn(
          { script: [503, 503, 503, "ok"] },
          { retry: RetryPolicy.make({ base: "1 second", jitter: "none", maxAttempts: 5 }) }
        )
      )
    )
  )

  it.effect("completes five calls under a 1 request/s quota, paced by the limiter one second apart", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const fake = yield* FakeGrok.FakeGrok
      const calls = yield* Effect.fork(
        Effect.all(
          Array.from({ length: 5 }, (_, i) => grok.chat(hello(`p${i}`))),
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust("10 seconds")
      const results = yield* Fiber.join(calls)
      expect(results.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1])
      const arrivals = yield* fake.arrivals
      expect(arrivals.map((a) => a.status)).toEqual([200, 200, 200, 200, 200])
      expect(arrivals.map((a) => a.atMillis)).toEqual([0, 1000, 2000, 3000, 4000])
    }).pipe(
      Effect.provide(
        clientOn({ requestsPerSecond: 1 }).pipe(Layer.provideMerge(RateLimiter.layer({ requestsPerSecond: 1 })))
      ),
      seeded
    )
  )
})
