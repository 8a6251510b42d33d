import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option } from "effect"
import { readFileSync } from "node:fs"
import * as GrokApi from "../src/GrokApi.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import type { Frame } from "./support/fake.js"
import { arrivalsUntil, chatBody, firstFrames, framesOf, fronts, send } from "./support/fake.js"

const fixture = (name: string) => readFileSync(new URL(`./fixtures/xai/${name}`, import.meta.url), "utf8")
const fixtureLines = (name: string): Array<Record<string, unknown>> =>
  fixture(name)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line))

const streamed = (content = "hello there, how are you") => chatBody(content, { stream: true })

const chunksOf = (frames: ReadonlyArray<Frame>) =>
  frames
    .filter((frame) => frame.data !== "[DONE]")
    .map((frame) => Either.getOrThrow(GrokApi.decodeChatCompletionChunk(JSON.parse(frame.data))))

const textOf = (chunks: ReadonlyArray<GrokApi.ChatCompletionChunk>) =>
  chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")

const lastArrival = Effect.map(
  Effect.flatMap(FakeGrok.FakeGrok, (fake) => fake.arrivals),
  (all) => all.at(-1)!
)

for (const front of fronts) {
  describe(`FakeGrok chat streams ${front.name}`, () => {
    it.effect("streams a completion as chunks that decode, usage in the last chunk, then [DONE]", () =>
      Effect.gen(function* () {
        const whole = yield* send({ path: "/chat/completions", body: chatBody("hello there, how are you") })
        const reply = yield* send({ path: "/chat/completions", body: streamed() })
        expect(reply.status).toBe(200)
        expect(reply.headers["content-type"]).toContain("text/event-stream")
        const frames = framesOf(reply.text)
        expect(frames.at(-1)).toEqual({ data: "[DONE]" })
        const chunks = chunksOf(frames)
        expect(textOf(chunks)).toBe("echo: hello there, how are you")
        expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: "assistant", reasoning_content: expect.any(String) })
        expect(chunks.filter((c) => c.choices[0]?.finish_reason === "stop").length).toBe(1)
        const completion = Either.getOrThrow(GrokApi.decodeChatCompletion(JSON.parse(whole.text)))
        expect(chunks.at(-1)?.choices).toEqual([])
        expect(chunks.at(-1)?.usage).toEqual(completion.usage)
        expect((yield* lastArrival).stream).toEqual({ chunksSent: frames.length, state: "ended" })
      }).pipe(Effect.provide(front.layer({ reasoningTokens: 4 })))
    )

    it.effect("sends chunks with the keys of the recorded xAI stream", () =>
      Effect.gen(function* () {
        const chunks = framesOf((yield* send({ path: "/chat/completions", body: streamed() })).text)
          .filter((frame) => frame.data !== "[DONE]")
          .map((frame) => JSON.parse(frame.data) as Record<string, unknown>)
        const recorded = fixtureLines("xai-text.chunks.txt")
        expect(Object.keys(chunks[0]!).sort()).toEqual(Object.keys(recorded[0]!).sort())
        const usage = (chunk: Record<string, unknown>) => Object.keys(chunk.usage as object).sort()
        expect(usage(chunks.at(-1)!)).toEqual(usage(recorded.at(-1)!))
      }).pipe(Effect.provide(front.layer()))
    )

    it.effect("cuts a stream after k chunks: the body ends without finish_reason or [DONE]", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/chat/completions", body: streamed() })
        expect(reply.status).toBe(200)
        const frames = framesOf(reply.text)
        expect(frames.length).toBe(3)
        expect(frames.some((frame) => frame.data === "[DONE]")).toBe(false)
        expect(chunksOf(frames).every((c) => c.choices[0]?.finish_reason === undefined)).toBe(true)
        expect(yield* lastArrival).toMatchObject({ kind: "stream-cut", stream: { chunksSent: 3, state: "ended" } })
      }).pipe(Effect.provide(front.layer({ streamFaultRate: 1, streamFaults: ["stream-cut"], streamFaultAfter: 3 })))
    )

    it.effect("never cuts past the last chunk that leaves the answer incomplete", () =>
      Effect.gen(function* () {
        const frames = framesOf((yield* send({ path: "/chat/completions", body: streamed("hi") })).text)
        expect(textOf(chunksOf(frames))).toBe("echo: hi")
        expect(frames.length).toBe(2)
        expect(chunksOf(frames).some((c) => c.choices[0]?.finish_reason !== undefined)).toBe(false)
      }).pipe(Effect.provide(front.layer({ script: ["stream-cut"], streamFaultAfter: 50 })))
    )

    it.effect("stalls after k chunks with the connection open, until the client closes it", () =>
      Effect.gen(function* () {
        const reading = yield* Effect.fork(send({ path: "/chat/completions", body: streamed() }))
        const open = yield* arrivalsUntil((all) => all[0]?.stream?.chunksSent === 2)
        expect(open[0]).toMatchObject({ kind: "script", stream: { chunksSent: 2, state: "open" } })
        expect(Option.isNone(yield* Fiber.poll(reading))).toBe(true)
        yield* Fiber.interrupt(reading)
        const closed = yield* arrivalsUntil((all) => all[0]?.stream !== undefined && all[0].stream.state !== "open")
        expect(closed[0]?.stream).toEqual({ chunksSent: 2, state: "client-closed" })
      }).pipe(Effect.provide(front.layer({ script: ["stream-stall"] })))
    )

    it.effect("sends an error event in xAI's error-body shape mid-stream, then ends the body", () =>
      Effect.gen(function* () {
        const frames = framesOf((yield* send({ path: "/chat/completions", body: streamed() })).text)
        expect(frames.length).toBe(3)
        expect(chunksOf(frames.slice(0, 2)).length).toBe(2)
        const error = GrokApi.decodeErrorBody(JSON.parse(frames[2]!.data))
        expect(Option.getOrThrow(error)).toEqual({
          code: "The service is currently unavailable",
          error: expect.stringContaining("stopped while streaming")
        })
        expect(frames.some((frame) => frame.data === "[DONE]")).toBe(false)
      }).pipe(Effect.provide(front.layer({ script: ["stream-error-event"] })))
    )

    it.effect("answers a streamed request with a JSON error object and HTTP 200 instead of SSE", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/chat/completions", body: streamed() })
        expect(reply.status).toBe(200)
        expect(reply.headers["content-type"]).toContain("application/json")
        expect(JSON.parse(reply.text)).toEqual({
          code: "The service is currently unavailable",
          error: "Timed out waiting for first token"
        })
      }).pipe(Effect.provide(front.layer({ script: ["stream-json-error"] })))
    )

    it.effect("answers a request that does not stream normally when it meets a stream fault", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/chat/completions", body: chatBody("plain") })
        expect(reply.status).toBe(200)
        const completion = Either.getOrThrow(GrokApi.decodeChatCompletion(JSON.parse(reply.text)))
        expect(completion.choices[0]?.message.content).toBe("echo: plain")
        expect((yield* lastArrival).stream).toBeUndefined()
      }).pipe(Effect.provide(front.layer({ script: ["stream-cut"], streamFaultRate: 1 })))
    )

    it.effect("applies pre-stream faults to streamed requests: a truncated stream stops mid-frame", () =>
      Effect.gen(function* () {
        const reply = yield* send({ path: "/chat/completions", body: streamed() })
        const blocks = reply.text.split("\n\n")
        expect(blocks.at(-1)).not.toBe("")
        expect(blocks.at(-1)?.startsWith("data: {")).toBe(true)
        expect(() => JSON.parse(blocks.at(-1)!.slice("data: ".length))).toThrow()
        expect(reply.text).not.toContain("[DONE]")
      }).pipe(Effect.provide(front.layer({ script: ["truncated"] })))
    )

    it.effect("streams a huge prompt in at most 256 deltas, and answers 413 to a body over 10 MiB", () =>
      Effect.gen(function* () {
        const long = Array.from({ length: 5000 }, (_, i) => `w${i}`).join(" ")
        const chunks = chunksOf(framesOf((yield* send({ path: "/chat/completions", body: streamed(long) })).text))
        expect(textOf(chunks)).toBe(`echo: ${long}`)
        expect(chunks.length).toBeLessThanOrEqual(256 + 2)
        const tooLarge = yield* send({ path: "/chat/completions", body: chatBody("x".repeat(11 * 1024 * 1024)) })
        expect(tooLarge.status).toBe(413)
        expect(JSON.parse(tooLarge.text)).toMatchObject({ error: expect.stringContaining("too large") })
        expect((yield* lastArrival).kind).toBe("invalid")
      }).pipe(Effect.provide(front.layer()))
    )

    it.live("notices a consumer interrupted mid-stream: the connection closes and the fake stops writing", () =>
      Effect.gen(function* () {
        const long = Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ")
        const { frames } = yield* firstFrames({ path: "/chat/completions", body: streamed(long) }, 2)
        expect(frames.length).toBe(2)
        const closed = yield* arrivalsUntil((all) => all[0]?.stream !== undefined && all[0].stream.state !== "open")
        expect(closed[0]?.stream?.state).toBe("client-closed")
        expect(closed[0]!.stream!.chunksSent).toBeLessThan(54) // of 54 frames: it stopped early
      }).pipe(Effect.provide(front.layer({ chunkMillis: 20 })))
    )

    it.effect("records the client closing the connection when a consumer lets go after the first chunk", () =>
      Effect.gen(function* () {
        const { frames } = yield* firstFrames({ path: "/chat/completions", body: streamed() }, 1)
        expect(frames.length).toBe(1)
        const arrivals = yield* arrivalsUntil((all) => all[0]?.stream !== undefined && all[0].stream.state !== "open")
        expect(arrivals[0]?.stream?.state).toBe("client-closed")
      }).pipe(Effect.provide(front.layer({ script: ["stream-stall"], streamFaultAfter: 3 })))
    )
  })
}
