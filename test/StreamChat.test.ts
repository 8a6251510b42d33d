import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Option, Random, Ref, Stream, TestClock } from "effect"
import type * as GrokApi from "../src/GrokApi.js"
import type * as GrokError from "../src/GrokError.js"
import type { StreamAnswer } from "../src/internal/stream/answer.js"
import { decodeChatStream } from "../src/internal/stream/chatStream.js"
import { answer, body, bytes, chatSse, cutAt, fixtureLines, randomPieces, SECRET } from "./StreamSupport.js"

const run = (stream: Stream.Stream<Uint8Array, unknown>, options: StreamAnswer = answer()) =>
  decodeChatStream(stream, options).pipe(Stream.runCollect, Effect.map(Chunk.toArray), Effect.either)

const failure = (result: Either.Either<Array<GrokApi.ChatCompletionChunk>, GrokError.GrokError>) => {
  if (Either.isRight(result)) throw new Error(`expected a failure, got ${result.right.length} chunks`)
  return result.left
}

const text = (chunks: ReadonlyArray<GrokApi.ChatCompletionChunk>) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")

const firstTwo = fixtureLines("xai-text.chunks.txt")
  .slice(0, 2)
  .map((line) => `data: ${line}\n\n`)
  .join("")

describe("decodeChatStream", () => {
  it.effect("decodes both recorded chunk streams as they are", () =>
    Effect.gen(function* () {
      for (const name of ["xai-text.chunks.txt", "xai-tool-call.chunks.txt"]) {
        const chunks = Either.getOrThrow(yield* run(body(chatSse(name))))
        expect(chunks).toEqual(fixtureLines(name).map((line) => JSON.parse(line)))
      }
    })
  )

  it.effect("gives the same chunks wherever the bytes are cut, at every offset", () =>
    Effect.gen(function* () {
      const data = bytes(chatSse("xai-tool-call.chunks.txt").replaceAll("\n", "\r\n"))
      const whole = Either.getOrThrow(yield* run(body(data)))
      expect(whole).toHaveLength(8)
      for (let offset = 1; offset < data.length; offset++) {
        const result = yield* run(body(...cutAt(data, [offset])))
        if (Either.isLeft(result)) throw new Error(`cut at ${offset}: ${result.left.message}`)
        expect(result.right).toEqual(whole)
      }
    })
  )

  it.effect("gives the same chunks when the bytes come in many small random pieces", () =>
    Effect.gen(function* () {
      const data = bytes(chatSse("xai-text.chunks.txt"))
      const whole = Either.getOrThrow(yield* run(body(data)))
      for (let round = 0; round < 40; round++) {
        const pieces = yield* randomPieces(data, 24)
        expect(Either.getOrThrow(yield* run(body(...pieces)))).toEqual(whole)
      }
    }).pipe(Effect.withRandom(Random.make("chat-pieces")))
  )

  it.effect("fails a stream cut after two chunks with StreamCut and the text received", () =>
    Effect.gen(function* () {
      const error = failure(yield* run(body(firstTwo)))
      expect(error._tag).toBe("Transient")
      expect(error._tag === "Transient" && error.reason).toBe("StreamCut")
      expect(error.received).toEqual({ text: "", chunks: 2 })
      expect(error.requestId).toBe("req-stream-1")
      expect(error.message).toContain("delivered 2 chunks")
    })
  )

  it.effect("counts the content received before a cut", () =>
    Effect.gen(function* () {
      const lines = fixtureLines("xai-text.chunks.txt")
      const error = failure(
        yield* run(
          body(
            lines
              .slice(0, 6)
              .map((line) => `data: ${line}\n\n`)
              .join("")
          )
        )
      )
      expect(error.received).toEqual({ text: "Hello", chunks: 6 })
    })
  )

  it.effect("is not whole without [DONE], nor with [DONE] but no finish_reason", () =>
    Effect.gen(function* () {
      const lines = fixtureLines("xai-text.chunks.txt").map((line) => `data: ${line}\n\n`)
      const noDone = failure(yield* run(body(lines.join(""))))
      expect(noDone._tag === "Transient" && noDone.reason).toBe("StreamCut")
      expect(noDone.received?.chunks).toBe(lines.length)
      const noFinish = failure(yield* run(body(lines.slice(0, 6).join("") + "data: [DONE]\n\n")))
      expect(noFinish._tag === "Transient" && noFinish.reason).toBe("StreamCut")
      expect(noFinish.message).toContain("[DONE] arrived before every choice finished")
    })
  )

  it.effect("drops an event cut off by the end of the body instead of passing it as whole", () =>
    Effect.gen(function* () {
      const data = chatSse("xai-text.chunks.txt")
      const error = failure(yield* run(body(data.slice(0, data.length - 1))))
      expect(error._tag === "Transient" && error.reason).toBe("StreamCut")
    })
  )

  it.effect("classifies an error object mid-stream like an error body and keeps what came before", () =>
    Effect.gen(function* () {
      const plain = failure(yield* run(body(firstTwo, 'data: {"error":{"message":"upstream model crashed"}}\n\n')))
      expect(plain._tag === "Transient" && plain.reason).toBe("ErrorInBody")
      expect(plain.detail).toBe("upstream model crashed")
      expect(plain.received?.chunks).toBe(2)
      const credits = failure(
        yield* run(body(firstTwo, 'data: {"code":"x","error":"Your team has used all available credits"}\n\n'))
      )
      expect(credits._tag).toBe("QuotaExhausted")
      expect(credits.received?.chunks).toBe(2)
    })
  )

  it.effect("delivers the chunks that precede an error in the same piece of the body, then fails", () =>
    Effect.gen(function* () {
      const results = yield* decodeChatStream(body(firstTwo + 'data: {"error":"stream aborted"}\n\n'), answer()).pipe(
        Stream.either,
        Stream.runCollect,
        Effect.map(Chunk.toArray)
      )
      expect(results.map((result) => (Either.isRight(result) ? "chunk" : result.left._tag))).toEqual([
        "chunk",
        "chunk",
        "Transient"
      ])
    })
  )

  it.effect("classifies an `event: error`, using the status it names", () =>
    Effect.gen(function* () {
      const overloaded = failure(
        yield* run(body(firstTwo, 'event: error\ndata: {"message":"model overloaded","status":503}\n\n'))
      )
      expect(overloaded._tag === "Transient" && overloaded.reason).toBe("Overloaded")
      expect(overloaded.status).toBe(503)
      const bare = failure(yield* run(body(firstTwo, "event: error\n\n")))
      expect(bare._tag === "Transient" && bare.reason).toBe("ErrorInBody")
      const limited = failure(yield* run(body('event: error\ndata: {"error":{"message":"slow down","code":429}}\n\n')))
      expect(limited._tag).toBe("RateLimited")
    })
  )

  it.effect("classifies a JSON body sent in place of the stream, by content type or by its first byte", () =>
    Effect.gen(function* () {
      const errorBody = '{"error":{"message":"Service temporarily unavailable","type":"server_error"}}'
      const byType = failure(yield* run(body(errorBody), answer({ contentType: "application/json; charset=utf-8" })))
      expect(byType._tag === "Transient" && byType.reason).toBe("ErrorInBody")
      expect(byType.received).toEqual({ text: "", chunks: 0 })
      const sniffed = failure(yield* run(body("\r\n  ", errorBody.slice(0, 10), errorBody.slice(10))))
      expect(sniffed._tag === "Transient" && sniffed.reason).toBe("ErrorInBody")
      const key = failure(
        yield* run(body('{"code":"x","error":"Incorrect API key provided: xa***"}'), answer({ status: 400 }))
      )
      expect(key._tag).toBe("AuthError")
      const completion = failure(yield* run(body(JSON.stringify({ id: "x", model: "m", choices: [] }))))
      expect(completion._tag === "Transient" && completion.reason).toBe("MalformedBody")
      expect(completion.detail).toContain("JSON body arrived where an event stream was expected")
      const html = failure(yield* run(body("<html><body>502 Bad Gateway</body></html>")))
      expect(html._tag === "Transient" && html.reason).toBe("HtmlBody")
    })
  )

  it.effect("fails a chunk that is not JSON or does not decode as MalformedBody", () =>
    Effect.gen(function* () {
      const notJson = failure(yield* run(body(firstTwo, "data: {oops\n\n")))
      expect(notJson._tag === "Transient" && notJson.reason).toBe("MalformedBody")
      expect(notJson.body).toBe("{oops")
      expect(notJson.received?.chunks).toBe(2)
      const wrongShape = failure(yield* run(body('data: {"id":1,"choices":"none"}\n\n')))
      expect(wrongShape._tag === "Transient" && wrongShape.reason).toBe("MalformedBody")
      expect(wrongShape.detail).toContain("a chunk does not decode")
    })
  )

  it.effect("caps one event and a body read whole, failing typed", () =>
    Effect.gen(function* () {
      const line = failure(
        yield* run(body("data: ", "x".repeat(600), "x".repeat(600)), answer({ maxEventBytes: 1000 }))
      )
      expect(line._tag === "Transient" && line.reason).toBe("MalformedBody")
      expect(line.detail).toContain("exceeded 1000 bytes")
      const whole = failure(yield* run(body("{", " ".repeat(2000)), answer({ maxEventBytes: 1000 })))
      expect(whole.detail).toContain("exceeded 1000 bytes")
    })
  )

  it.effect("keeps the API key out of the error, the body and the text received", () =>
    Effect.gen(function* () {
      const leak = `data: {"id":"a","model":"m","choices":[{"index":0,"delta":{"content":"key ${SECRET}"}}]}\n\n`
      const error = failure(yield* run(body(leak, `data: {"error":"bad key ${SECRET}"}\n\n`)))
      expect(JSON.stringify(error)).not.toContain(SECRET)
      expect(error.message).not.toContain(SECRET)
      expect(error.received?.text).toBe("key <redacted>")
    })
  )

  it.effect("fails with StreamStalled exactly when no byte came for idleTimeout after two chunks", () =>
    Effect.gen(function* () {
      const stalled = Stream.concat(body(firstTwo), Stream.never)
      const fiber = yield* Effect.fork(run(stalled))
      yield* TestClock.adjust("1999 millis")
      expect(Option.isNone(yield* Fiber.poll(fiber))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const error = failure(yield* Fiber.join(fiber))
      expect(error._tag === "Transient" && error.reason).toBe("StreamStalled")
      expect(error.received).toEqual({ text: "", chunks: 2 })
      expect(error.detail).toBe("no data for 2s")
    })
  )

  it.effect("restarts the idle timer with every piece of the body", () =>
    Effect.gen(function* () {
      const pieces = cutAt(bytes(chatSse("xai-text.chunks.txt")), [300, 900, 1500])
      const slow = Stream.fromIterable(pieces).pipe(Stream.tap(() => Effect.sleep("1500 millis")))
      const fiber = yield* Effect.fork(run(slow))
      yield* TestClock.adjust("10 seconds")
      const chunks = Either.getOrThrow(yield* Fiber.join(fiber))
      expect(text(chunks)).toBe("Hello")
    })
  )

  it.effect("stops reading at [DONE] and closes the body", () =>
    Effect.gen(function* () {
      const closed = yield* Ref.make(false)
      const open = Stream.concat(body(chatSse("xai-text.chunks.txt")), Stream.never).pipe(
        Stream.ensuring(Ref.set(closed, true))
      )
      const chunks = Either.getOrThrow(yield* run(open))
      expect(chunks).toHaveLength(8)
      expect(yield* Ref.get(closed)).toBe(true)
    })
  )

  it.effect("closes the body when the consumer is interrupted", () =>
    Effect.gen(function* () {
      const closed = yield* Ref.make(false)
      const open = Stream.concat(body(firstTwo), Stream.never).pipe(Stream.ensuring(Ref.set(closed, true)))
      const fiber = yield* Effect.fork(run(open, answer({ idleTimeout: "1 hour" })))
      yield* TestClock.adjust("1 second")
      expect(yield* Ref.get(closed)).toBe(false)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(closed)).toBe(true)
    })
  )

  it.effect("turns a body failure into Transient ConnectionFailed with what was received", () =>
    Effect.gen(function* () {
      const reset = Stream.concat(body(firstTwo), Stream.fail(new Error("socket hang up")))
      const error = failure(yield* run(reset))
      expect(error._tag === "Transient" && error.reason).toBe("ConnectionFailed")
      expect(error.detail).toContain("socket hang up")
      expect(error.received?.chunks).toBe(2)
    })
  )
})
