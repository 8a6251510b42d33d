/**
 * The containment stages on the stream path, on TestClock with the fake's in-process client: a stream is judged by
 * the breaker on its opening, and moves to a fallback model only before its first chunk.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Layer, Random, Redacted, Stream, TestClock } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"

const request = (index: number) => ({
  model: "grok-4",
  messages: [{ role: "user" as const, content: `call ${index}` }]
})

const streamed = (scenario: FakeGrok.Scenario, options: Partial<GrokClient.Options>, calls: number) =>
  Effect.gen(function* () {
    const client = GrokClient.layer({ apiKey: Redacted.make("test-key"), ...options }).pipe(
      Layer.provideMerge(FakeGrok.layerClient(scenario)),
      Layer.orDie
    )
    const program = Effect.gen(function* () {
      const grok = yield* GrokClient.GrokClient
      const fake = yield* FakeGrok.FakeGrok
      const results = yield* Effect.forEach(
        Array.from({ length: calls }, (_, index) => index),
        (index) => Effect.either(Stream.runCollect(grok.chatStream(request(index)))),
        { concurrency: 20 }
      )
      return { results, arrivals: yield* fake.arrivals }
    })
    const fiber = yield* Effect.fork(program.pipe(Effect.provide(client), Effect.withRandom(Random.make(3))))
    yield* TestClock.adjust("10 minutes")
    return yield* Fiber.join(fiber)
  })

describe("containment of streamed calls", () => {
  it.effect("an outage of 5 s: 40 streams at concurrency 20 all complete, 5 failed opens and 9 failed probes", () =>
    Effect.gen(function* () {
      const { results, arrivals } = yield* streamed({ outages: [{ fromMillis: 0, toMillis: 5_000 }] }, {}, 40)
      expect(results.filter(Either.isRight).length).toBe(40)
      expect(arrivals.filter((a) => a.kind === "outage").length).toBe(14)
    })
  )

  it.effect("grok-4 down: every stream comes from grok-4-fast, after 5 refused opens of grok-4", () =>
    Effect.gen(function* () {
      const { results, arrivals } = yield* streamed(
        { outages: [{ fromMillis: 0, toMillis: 600_000, models: ["grok-4"] }] },
        { fallbackModels: ["grok-4-fast"] },
        40
      )
      const chunks = results.filter(Either.isRight).map((result) => Chunk.toReadonlyArray(result.right))
      expect(chunks.length).toBe(40)
      expect(chunks.every((items) => items.length > 0 && items.every((chunk) => chunk.model === "grok-4-fast"))).toBe(
        true
      )
      expect(arrivals.filter((a) => a.kind === "outage").length).toBe(5)
    })
  )

  it.effect("chat with stream: true says which model answered", () =>
    Effect.gen(function* () {
      const client = GrokClient.layer({ apiKey: Redacted.make("test-key"), fallbackModels: ["grok-4-fast"] }).pipe(
        Layer.provideMerge(
          FakeGrok.layerClient({ outages: [{ fromMillis: 0, toMillis: 600_000, models: ["grok-4"] }] })
        ),
        Layer.orDie
      )
      const fiber = yield* Effect.fork(
        Effect.flatMap(GrokClient.GrokClient, (grok) => grok.chat(request(0), { stream: true })).pipe(
          Effect.provide(client)
        )
      )
      yield* TestClock.adjust("1 minute")
      const result = yield* Fiber.join(fiber)
      expect(result.model).toBe("grok-4-fast")
      expect(result.completion.model).toBe("grok-4-fast")
    })
  )
})
