import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Option, Random, Redacted, TestClock } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import * as GrokClient from "../src/GrokClient.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { chatBody, send } from "./support/fake.js"

const hello = (content = "hi") => ({ model: "grok-4", messages: [{ role: "user" as const, content }] })

/** A GrokClient on the in-process fake, and the fake itself for its arrivals. */
const clientOn = (scenario: FakeGrok.Scenario, options: Partial<GrokClient.Options> = {}) =>
  GrokClient.layer({ apiKey: Redacted.make("test-key"), ...options }).pipe(
    Layer.provideMerge(FakeGrok.layerClient(scenario))
  )

const seeded = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withRandom(effect, Random.make(42))

describe("FakeGrok.layerClient", () => {
  it.effect("answers a chat request in process with a completion that echoes the prompt", () =>
    Effect.gen(function* () {
      const reply = yield* send({ path: "/chat/completions", body: hello("What is 2+2?") })
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

  it.effect(
    "spreads five calls under 1 request/s without a limiter: the Retry-After floor lets one in per second",
    () =>
      Effect.gen(function* () {
        const grok = yield* GrokClient.GrokClient
        const fake = yield* FakeGrok.FakeGrok
        const calls = yield* Effect.fork(
          Effect.all(
            Array.from({ length: 5 }, (_, i) => grok.chat(hello(`p${i}`))),
            { concurrency: "unbounded" }
          )
        )
        yield* TestClock.adjust("1 minute")
        const results = yield* Fiber.join(calls)
        expect(results.map((r) => r.content).sort()).toEqual([
          "echo: p0",
          "echo: p1",
          "echo: p2",
          "echo: p3",
          "echo: p4"
        ])
        const arrivals = yield* fake.arrivals
        expect(arrivals.length).toBe(results.reduce((sum, r) => sum + r.attempts, 0))
        const served = arrivals.filter((a) => a.status === 200).map((a) => a.atMillis)
        expect(served.length).toBe(5)
        served.slice(1).forEach((at, i) => expect(at - served[i]!).toBeGreaterThanOrEqual(1000))
        expect(arrivals.filter((a) => a.status === 429).every((a) => a.kind === "rate-limited")).toBe(true)
      }).pipe(Effect.provide(clientOn({ requestsPerSecond: 1 }, { retry: RetryPolicy.standard })), seeded)
  )

  it.effect("sleeps latency and a slow answer on the Clock: the answer lands only when the TestClock gets there", () =>
    Effect.gen(function* () {
      const reply = yield* Effect.fork(send({ path: "/chat/completions", body: chatBody() }))
      yield* TestClock.adjust("2099 millis")
      expect(Option.isNone(yield* Fiber.poll(reply))).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(reply)).status).toBe(200)
    }).pipe(Effect.provide(FakeGrok.layerClient({ latencyMillis: 100, script: ["slow"], slowMillis: 2000 })))
  )

  it.effect("refills the scenario's request quota and opens and closes outages in virtual time", () =>
    Effect.gen(function* () {
      const chat = Effect.map(send({ path: "/chat/completions", body: chatBody() }), (r) => r.status)
      expect(yield* chat).toBe(200)
      const limited = yield* send({ path: "/chat/completions", body: chatBody() })
      expect([limited.status, limited.headers["retry-after-ms"]]).toEqual([429, "1000"])
      yield* TestClock.adjust("1 second")
      expect(yield* chat).toBe(503)
      yield* TestClock.adjust("1 second")
      expect(yield* chat).toBe(200)
    }).pipe(
      Effect.provide(
        FakeGrok.layerClient({
          requestsPerSecond: 1,
          retryAfter: "ms",
          outages: [{ fromMillis: 1000, toMillis: 2000, status: 503 }]
        })
      )
    )
  )

  it.effect("dates Retry-After from Effect's Clock", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(Date.UTC(2030, 0, 1))
      const fake = FakeGrok.layerClient({ requestsPerMinute: 1, retryAfter: "date" })
      const replies = yield* Effect.all([0, 1].map(() => send({ path: "/chat/completions", body: chatBody() }))).pipe(
        Effect.provide(fake)
      )
      expect(replies[1]!.status).toBe(429)
      expect(replies[1]!.headers["retry-after"]).toBe(new Date(Date.UTC(2030, 0, 1, 0, 1)).toUTCString())
    })
  )

  it.effect("fails a reset as a RequestError with reason Transport, which the client classifies as Transient", () =>
    Effect.gen(function* () {
      const raw = yield* Effect.flip(send({ path: "/chat/completions", body: chatBody() }))
      expect(raw).toMatchObject({ _tag: "RequestError", reason: "Transport" })
      const grok = yield* GrokClient.GrokClient
      const error = yield* Effect.flip(grok.chat(hello()))
      expect(error).toMatchObject({ _tag: "Transient", isRetryable: true })
    }).pipe(Effect.provide(clientOn({ script: ["reset", "reset"] }, { retry: RetryPolicy.none })))
  )

  it.effect("paces stream chunks on the Clock, and a stall holds until the reader gives up in virtual time", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.FakeGrok
      const body = chatBody("one two three", { stream: true })
      const whole = yield* Effect.fork(send({ path: "/chat/completions", body }))
      yield* TestClock.adjust("2500 millis")
      expect((yield* fake.arrivals)[0]?.stream).toEqual({ chunksSent: 2, state: "open" })
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(whole)).text).toContain("[DONE]")
      yield* fake.setScenario({ script: ["stream-stall"], chunkMillis: 1000 })
      yield* fake.clearArrivals
      const stalled = yield* Effect.fork(Effect.timeout(send({ path: "/chat/completions", body }), "30 seconds"))
      yield* TestClock.adjust("30 seconds")
      expect((yield* Effect.flip(Fiber.join(stalled)))._tag).toBe("TimeoutException")
      expect((yield* fake.arrivals)[0]?.stream).toEqual({ chunksSent: 2, state: "client-closed" })
    }).pipe(Effect.provide(FakeGrok.layerClient({ chunkMillis: 1000 })))
  )

  it.effect("draws its ids from Effect's Random: the same seed gives the same request ids", () =>
    Effect.gen(function* () {
      const ids = (seed: number) =>
        Effect.all([0, 1, 2].map(() => send({ path: "/models" }))).pipe(
          Effect.map((replies) => replies.map((r) => r.headers["x-request-id"])),
          Effect.provide(FakeGrok.layerClient()),
          Effect.withRandom(Random.make(seed))
        )
      const first = yield* ids(7)
      expect(yield* ids(7)).toEqual(first)
      expect(yield* ids(8)).not.toEqual(first)
      expect(new Set(first).size).toBe(3)
    })
  )

  it.effect("answers whatever host the client uses, so GrokClient's default base URL works", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const models = yield* grok.models()
      expect(models.data.map((m) => m.id)).toEqual(["grok-4", "grok-3-mini"])
      expect((yield* FakeGrok.FakeGrok).url).toBe("http://fake-grok.invalid/v1")
      expect((yield* (yield* FakeGrok.FakeGrok).arrivals)[0]).toMatchObject({ method: "GET", path: "/v1/models" })
    }).pipe(Effect.provide(clientOn({})))
  )
})
