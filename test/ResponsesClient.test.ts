import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Redacted, Stream } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"

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

const request = (input: string) => ({ model: "grok-4", input, instructions: "answer briefly" })

describe("GrokClient.responses", () => {
  it.scopedLive("creates a response and joins its output text, with usage and request id", () =>
    Effect.gen(function* () {
      const { grok } = yield* overSocket({})
      const result = yield* grok.responses.create(request("hello responses"))
      expect(result.text).toContain("hello responses")
      expect(result.usage?.input_tokens).toBeGreaterThan(0)
      expect(result.requestId).toBeDefined()
      expect(result.attempts).toBe(1)
    })
  )

  it.scopedLive("collects a streamed response to the same text, retrying a broken stream whole", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* overSocket(
        { script: ["stream-cut"], streamFaultAfter: 2 },
        { retry: RetryPolicy.make({ base: "10 millis" }) }
      )
      const streamed = yield* grok.responses.create(request("same text"), { stream: true })
      const plain = yield* grok.responses.create(request("same text"))
      expect(streamed.text).toBe(plain.text)
      expect(streamed.attempts).toBe(2)
      expect((yield* fake.arrivals).length).toBe(3)
    })
  )

  it.scopedLive("streams the events as xAI sends them, ending with response.completed", () =>
    Effect.gen(function* () {
      const { grok } = yield* overSocket({})
      const events = Chunk.toReadonlyArray(yield* Stream.runCollect(grok.responses.stream(request("events"))))
      expect(events[0]?.type).toBe("response.created")
      expect(events.at(-1)?.type).toBe("response.completed")
      expect(events.some((event) => event.type === "response.output_text.delta")).toBe(true)
    })
  )

  it.scopedLive("ends a stream without its terminal event as StreamCut", () =>
    Effect.gen(function* () {
      const { grok } = yield* overSocket({ script: ["stream-cut"], streamFaultAfter: 3 })
      const result = yield* Effect.either(Stream.runDrain(grok.responses.stream(request("cut me"))))
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "Transient", reason: "StreamCut" })
    })
  )

  it.scopedLive("gets and deletes a stored response by id", () =>
    Effect.gen(function* () {
      const { grok } = yield* overSocket({})
      const created = yield* grok.responses.create({ ...request("keep me"), store: true })
      const fetched = yield* grok.responses.get(created.response.id)
      expect(fetched.text).toBe(created.text)
      const deleted = yield* grok.responses.delete(created.response.id)
      expect(deleted).toMatchObject({ id: created.response.id, deleted: true })
      const gone = yield* Effect.flip(grok.responses.get(created.response.id))
      expect(gone).toMatchObject({ _tag: "Validation", reason: "NotFound" })
    })
  )

  it.scopedLive("refuses a request that fails its schema before sending", () =>
    Effect.gen(function* () {
      const { fake, grok } = yield* overSocket({})
      const error = yield* Effect.flip(grok.responses.create({ model: "", input: "x" }))
      expect(error).toMatchObject({ _tag: "Validation", reason: "InvalidRequest" })
      expect((yield* fake.arrivals).length).toBe(0)
    })
  )
})
