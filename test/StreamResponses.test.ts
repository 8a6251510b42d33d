import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Option, Random, Stream, TestClock } from "effect"
import * as GrokApi from "../src/GrokApi.js"
import type * as GrokError from "../src/GrokError.js"
import type { StreamAnswer } from "../src/internal/stream/answer.js"
import { collectResponse, collectResponseStream } from "../src/internal/stream/collectResponse.js"
import { decodeResponseStream } from "../src/internal/stream/responseStream.js"
import { answer, body, bytes, fixtureLines, randomPieces, responsesSse } from "./StreamSupport.js"

const FIXTURE = "responses-text-reasoning.chunks.txt"

const run = (stream: Stream.Stream<Uint8Array, unknown>, options: StreamAnswer = answer()) =>
  decodeResponseStream(stream, options).pipe(Stream.runCollect, Effect.map(Chunk.toArray), Effect.either)

const failure = (result: Either.Either<Array<GrokApi.ResponseEvent>, GrokError.GrokError>) => {
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${result.right.length} events`)
  return result.left
}

const lines = fixtureLines(FIXTURE)
/** The events before `response.completed`, framed; `extra` follows them. */
const upToCompleted = (extra = "") =>
  lines
    .slice(0, -1)
    .map((line) => `event: ${(JSON.parse(line) as { type: string }).type}\ndata: ${line}\n\n`)
    .join("") + extra
const completedResponse = () => (JSON.parse(lines[lines.length - 1]!) as { response: Record<string, unknown> }).response
const lifecycle = (type: string, response: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, response })}\n\n`

describe("decodeResponseStream", () => {
  it.effect("decodes the recorded reasoning stream and collects its final response and text", () =>
    Effect.gen(function* () {
      const events = Either.getOrThrow(yield* run(body(responsesSse(FIXTURE))))
      expect(events).toEqual(lines.map((line) => JSON.parse(line)))
      const response = Either.getOrThrow(collectResponse(events))
      expect(response.status).toBe("completed")
      const text = GrokApi.responseText(response)
      expect(text).toMatch(/^### Overview of Sonoran Cuisine/)
      expect(text).toBe(
        events
          .filter(GrokApi.isResponseEvent("response.output_text.delta"))
          .map((event) => event.delta)
          .join("")
      )
      expect(GrokApi.responseUsageSummary(response.usage)).toMatchObject({ prompt: 216, reasoning: 323, total: 1139 })
    })
  )

  it.effect("gives the same events when the bytes come in random pieces, cutting lines and characters", () =>
    Effect.gen(function* () {
      const data = bytes(responsesSse(FIXTURE))
      const whole = Either.getOrThrow(yield* run(body(data)))
      for (let round = 0; round < 12; round++) {
        const pieces = yield* randomPieces(data, round % 2 === 0 ? 7 : 600)
        const result = yield* run(body(...pieces))
        expect(Either.getOrThrow(result)).toEqual(whole)
      }
    }).pipe(Effect.withRandom(Random.make("responses-pieces")))
  )

  it.effect("takes the type from the SSE event name when the data has none", () =>
    Effect.gen(function* () {
      const response = completedResponse()
      const events = Either.getOrThrow(
        yield* run(
          body(
            'event: response.output_text.delta\ndata: {"delta":"Hi"}\n\n',
            `event: response.completed\ndata: ${JSON.stringify({ response })}\n\n`
          )
        )
      )
      expect(events.map((event) => event.type)).toEqual(["response.output_text.delta", "response.completed"])
    })
  )

  it.effect("fails a stream without a terminal event as StreamCut, with the text so far", () =>
    Effect.gen(function* () {
      const error = failure(yield* run(body(upToCompleted())))
      expect(error._tag === "Transient" && error.reason).toBe("StreamCut")
      expect(error.received?.chunks).toBe(lines.length - 1)
      expect(error.received?.text).toMatch(/Hermosillo\.$/)
      const done = failure(yield* run(body(upToCompleted("data: [DONE]\n\n"))))
      expect(done._tag === "Transient" && done.reason).toBe("StreamCut")
    })
  )

  it.effect("ends whole on response.incomplete, which a caller reads from the response's status", () =>
    Effect.gen(function* () {
      const incomplete = {
        ...completedResponse(),
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" }
      }
      const events = Either.getOrThrow(yield* run(body(upToCompleted(lifecycle("response.incomplete", incomplete)))))
      const response = Either.getOrThrow(collectResponse(events))
      expect(response.status).toBe("incomplete")
      expect(response.incomplete_details?.reason).toBe("max_output_tokens")
    })
  )

  it.effect("classifies response.failed and error events like error bodies", () =>
    Effect.gen(function* () {
      const failed = { ...completedResponse(), status: "failed", error: { code: "server_error", message: "boom" } }
      const error = failure(yield* run(body(upToCompleted(lifecycle("response.failed", failed)))))
      expect(error._tag === "Transient" && error.reason).toBe("ErrorInBody")
      expect(error.detail).toBe("boom")
      expect(error.received?.chunks).toBe(lines.length - 1)
      const credits = failure(
        yield* run(
          body(
            `event: response.created\ndata: ${lines[0]}\n\n`,
            'event: error\ndata: {"type":"error","code":"403","message":"Your team has used all available credits"}\n\n'
          )
        )
      )
      expect(credits._tag).toBe("QuotaExhausted")
      expect(credits.received?.chunks).toBe(1)
      const limited = failure(yield* run(body('data: {"type":"error","code":429,"message":"Too many requests"}\n\n')))
      expect(limited._tag).toBe("RateLimited")
    })
  )

  it.effect("classifies a JSON error body sent with HTTP 200 in place of the stream as Transient", () =>
    Effect.gen(function* () {
      const error = failure(yield* run(body('{"code":"Internal","error":"Service temporarily unavailable"}')))
      expect(error._tag === "Transient" && error.reason).toBe("ErrorInBody")
      const response = failure(yield* run(body(JSON.stringify(completedResponse()))))
      expect(response._tag === "Transient" && response.reason).toBe("MalformedBody")
    })
  )

  it.effect("fails an event that does not decode, and passes unknown event types through", () =>
    Effect.gen(function* () {
      const bad = failure(yield* run(body('data: {"type":"response.output_text.delta","delta":7}\n\n')))
      expect(bad._tag === "Transient" && bad.reason).toBe("MalformedBody")
      const untyped = failure(yield* run(body('data: {"delta":"x"}\n\n')))
      expect(untyped._tag === "Transient" && untyped.reason).toBe("MalformedBody")
      const events = Either.getOrThrow(
        yield* run(
          body(
            'event: response.web_search_call.searching\ndata: {"type":"response.web_search_call.searching","item_id":"ws_1"}\n\n',
            lifecycle("response.completed", completedResponse())
          )
        )
      )
      expect(events[0]).toEqual({ type: "response.web_search_call.searching", item_id: "ws_1" })
    })
  )

  it.effect("fails with StreamStalled exactly at idleTimeout after two events", () =>
    Effect.gen(function* () {
      const first = lines.slice(0, 2).map((line) => `data: ${line}\n\n`)
      const fiber = yield* Effect.fork(
        run(Stream.concat(body(...first), Stream.never), answer({ idleTimeout: "30 seconds" }))
      )
      yield* TestClock.adjust("29999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.join(fiber))
      expect(error._tag === "Transient" && error.reason).toBe("StreamStalled")
      expect(error.received).toEqual({ text: "", chunks: 2 })
    })
  )

  it.effect("collects a decoded stream into its final response", () =>
    Effect.gen(function* () {
      const response = yield* collectResponseStream(decodeResponseStream(body(responsesSse(FIXTURE)), answer()))
      expect(response.id).toBe("bf3b2b34-79d4-a45c-7be8-d1e5f96386c2")
      const cut = collectResponse(
        lines.slice(0, 10).map((line) => Either.getOrThrow(GrokApi.decodeResponseEvent(JSON.parse(line))))
      )
      expect(Either.isLeft(cut) && cut.left.reason).toBe("StreamCut")
      expect(Either.isLeft(cut) && cut.left.received?.chunks).toBe(10)
    })
  )

  it("uses the items of output_item.done when the terminal response lists no output", () => {
    const events = lines.map((line) => Either.getOrThrow(GrokApi.decodeResponseEvent(JSON.parse(line))))
    const last = events[events.length - 1]!
    const bare = { ...last, response: { ...(last as { response: object }).response, output: [] } }
    const response = Either.getOrThrow(collectResponse([...events.slice(0, -1), bare as GrokApi.ResponseEvent]))
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"])
    expect(GrokApi.responseText(response)).toMatch(/^### Overview of Sonoran Cuisine/)
  })
})
