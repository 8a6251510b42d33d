import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Redacted, Schedule, Stream, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import type * as GrokError from "../src/GrokError.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { hello } from "./support/client.js"

/** A client over a real loopback socket to a fake with `scenario`. */
const overSocket = (scenario: FakeGrok.Scenario, options: Partial<GrokClient.Options> = {}) =>
  Effect.gen(function* () {
    const fake = yield* FakeGrok.make(scenario)
    const grok = yield* GrokClient.make({
      apiKey: Redacted.make(fake.apiKey),
      baseUrl: fake.url,
      retry: RetryPolicy.none,
      ...options
    }).pipe(Effect.provide(FetchHttpClient.layer))
    return { fake, grok }
  })

const textOf = (
  chunks: Chunk.Chunk<{
    readonly choices: ReadonlyArray<{ readonly delta: { readonly content?: string | null | undefined } }>
  }>
) =>
  Chunk.toReadonlyArray(chunks)
    .map((chunk) => chunk.choices[0]?.delta.content ?? "")
    .join("")

const receivedOf = (error: GrokError.GrokError) =>
  (error as { readonly received?: { text: string; chunks: number } }).received

describe("GrokClient.chatStream", () => {
  it.scopedLive("streams the chunks of a whole answer, ending with its usage", () =>
    Effect.gen(function* () {
      const { grok } = yield* overSocket({})
      const chunks = yield* Stream.runCollect(grok.chatStream(hello("streamed")))
      expect(textOf(chunks)).toBe("echo: streamed")
      expect(Chunk.toReadonlyArray(chunks).some((chunk) => (chunk.usage?.total_tokens ?? 0) > 0)).toBe(true)
    })
  )

  for (const fault of ["stream-cut", "stream-error-event"] as const) {
    it.scopedLive(`ends typed with what was received after a ${fault} mid-stream, replaying nothing`, () =>
      Effect.gen(function* () {
        const { fake, grok } = yield* overSocket(
          { script: [fault], streamFaultAfter: 2 },
          { retry: RetryPolicy.standard }
        )
        const seen: Array<string> = []
        const result = yield* grok.chatStream(hello("a long enough prompt to cut")).pipe(
          Stream.runForEach((chunk) => Effect.sync(() => seen.push(chunk.choices[0]?.delta.content ?? ""))),
          Effect.either
        )
        expect(Either.isLeft(result)).toBe(true)
        const error = Either.isLeft(result) ? result.left : undefined
        expect(error?._tag).toBe("Transient")
        expect(receivedOf(error!)?.chunks).toBe(seen.length)
        expect(receivedOf(error!)?.text).toBe(seen.join(""))
        // After the first chunk nothing is retried: one request.
        expect((yield* fake.arrivals).length).toBe(1)
        if (fault === "stream-cut") expect(error).toMatchObject({ reason: "StreamCut" })
      })
    )
  }

  it.scopedLive("retries a JSON error body sent with 200 before the first chunk, like any call", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* overSocket({ script: ["stream-json-error", 503] }, { retry: RetryPolicy.standard })
      const chunks = yield* Stream.runCollect(grok.chatStream(hello("third time")))
      expect(textOf(chunks)).toBe("echo: third time")
      expect((yield* fake.arrivals).length).toBe(3)
    })
  )

  it.scopedLive("closes the connection when the consumer stops reading", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* overSocket({ chunkMillis: 20 })
      const first = yield* Stream.runHead(grok.chatStream(hello("a prompt with many words to stream slowly")))
      expect(first._tag).toBe("Some")
      const closedAfterHead = (arrivals: ReadonlyArray<FakeGrok.Arrival>) =>
        arrivals[0]?.stream?.state === "client-closed"
      yield* fake.arrivals.pipe(
        Effect.repeat({ until: closedAfterHead, schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("5 seconds")
      )
      const closed = yield* fake.arrivals
      expect(closed[0]?.stream?.state).toBe("client-closed")
    })
  )

  it.scopedLive("settles the limiter's token reservation with the usage of the final chunk", () =>
    Effect.gen(function* () {
      const fake = yield* FakeGrok.make({})
      const limiter = yield* RateLimiter.make({ tokensPerMinute: 60_000, tokenBurst: 2_000 })
      const grok = yield* GrokClient.make({ apiKey: Redacted.make(fake.apiKey), baseUrl: fake.url }).pipe(
        Effect.provide(Layer.merge(FetchHttpClient.layer, Layer.succeed(RateLimiter.RateLimiter, limiter)))
      )
      // The default estimate reserves ~1,000 completion tokens; the answer uses a few: the rest comes back at once.
      for (let i = 0; i < 6; i++) yield* Stream.runDrain(grok.chatStream(hello(`call ${i}`)))
      const snapshot = yield* limiter.snapshot
      expect(snapshot.inFlight).toBe(0)
      const quick = yield* Stream.runDrain(grok.chatStream(hello("one more"))).pipe(Effect.timeout("2 seconds"))
      expect(quick).toBeUndefined()
    })
  )
})

describe("GrokClient.chat with stream: true", () => {
  it.scopedLive("retries a stream broken mid-way whole, and returns the whole text", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* overSocket(
        { script: ["stream-cut", "stream-error-event", "stream-stall"], streamFaultAfter: 1 },
        { retry: RetryPolicy.make({ base: "10 millis" }), idleTimeout: "300 millis" }
      )
      const result = yield* grok.chat(hello("collected"), { stream: true })
      expect(result.content).toBe("echo: collected")
      expect(result.attempts).toBe(4)
      expect((yield* fake.arrivals).length).toBe(4)
    })
  )
})

describe("stream timing on TestClock, in process", () => {
  it.effect("a stall fails StreamStalled at exactly the idle timeout, after the first chunk", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const fiber = yield* Effect.fork(
        Stream.runCollect(grok.chatStream(hello("stall me please"), { idleTimeout: "5 seconds" })).pipe(Effect.either)
      )
      yield* TestClock.adjust("4999 millis")
      expect(yield* Fiber.poll(fiber)).toMatchObject({ _tag: "None" })
      yield* TestClock.adjust("1 milli")
      const result = yield* Fiber.join(fiber)
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "Transient", reason: "StreamStalled" })
    }).pipe(
      Effect.provide(
        GrokClient.layer({ apiKey: Redacted.make("test-key"), retry: RetryPolicy.none }).pipe(
          Layer.provideMerge(
            FakeGrok.layerClient({ apiKey: "test-key", script: ["stream-stall"], streamFaultAfter: 1 })
          )
        )
      )
    )
  )

  it.effect("a 503 before the first chunk is retried after the policy's backoff", () =>
    Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const fake = yield* FakeGrok.FakeGrok
      const policy = RetryPolicy.attempts(RetryPolicy.exponential({ base: "2 seconds" }), 3)
      const fiber = yield* Effect.fork(Stream.runCollect(grok.chatStream(hello("later"), { retry: policy })))
      yield* TestClock.adjust("1999 millis")
      expect((yield* fake.arrivals).length).toBe(1)
      yield* TestClock.adjust("1 milli")
      const chunks = yield* Fiber.join(fiber)
      expect(textOf(chunks)).toBe("echo: later")
      expect((yield* fake.arrivals).map((arrival) => arrival.atMillis)).toEqual([0, 2000])
    }).pipe(
      Effect.provide(
        GrokClient.layer({ apiKey: Redacted.make("test-key") }).pipe(
          Layer.provideMerge(FakeGrok.layerClient({ apiKey: "test-key", script: [503] }))
        )
      )
    )
  )
})
