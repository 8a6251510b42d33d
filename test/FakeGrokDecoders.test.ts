// The fake's streams read by the client's own stream decoders: every stream fault ends the way the streaming
// design says (whole, or a typed error), over the socket and in process.
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream, TestClock } from "effect"
import type { StreamAnswer } from "../src/internal/stream/answer.js"
import { decodeChatStream } from "../src/internal/stream/chatStream.js"
import { decodeResponseStream } from "../src/internal/stream/responseStream.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { arrivalsUntil, chatBody, fronts, responsesBody } from "./support/fake.js"

const api = {
  chat: { path: "/chat/completions", body: chatBody("one two three four five", { stream: true }) },
  responses: { path: "/responses", body: responsesBody("one two three four five", { stream: true }) }
} as const

/** Opens a stream on the fake and decodes it with the client's decoder for that API. */
const decoded = (which: keyof typeof api) =>
  Effect.gen(function* () {
    const fake = yield* FakeGrok.FakeGrok
    const http = yield* HttpClient.HttpClient
    const request = HttpClientRequest.post(`${fake.url}${api[which].path}`).pipe(
      HttpClientRequest.bodyUnsafeJson(api[which].body),
      HttpClientRequest.bearerToken(fake.apiKey)
    )
    const response = yield* Effect.orDie(http.execute(request))
    const answer: StreamAnswer = {
      status: response.status,
      contentType: response.headers["content-type"],
      headers: response.headers,
      idleTimeout: "5 seconds"
    }
    const items: Stream.Stream<unknown, { readonly _tag: string }> =
      which === "chat" ? decodeChatStream(response.stream, answer) : decodeResponseStream(response.stream, answer)
    return Chunk.toArray(yield* Stream.runCollect(items))
  })

for (const front of fronts) {
  for (const which of ["chat", "responses"] as const) {
    describe(`the ${which} decoder on the fake's streams ${front.name}`, () => {
      it.effect("reads a whole stream to its end", () =>
        Effect.gen(function* () {
          const items = yield* decoded(which)
          expect(items.length).toBeGreaterThan(3)
        }).pipe(Effect.provide(front.layer()))
      )

      for (const [fault, reason] of [
        ["stream-cut", "StreamCut"],
        ["stream-error-event", undefined],
        ["stream-json-error", undefined]
      ] as const) {
        it.effect(`ends a "${fault}" stream with a retryable Transient error`, () =>
          Effect.gen(function* () {
            const error = yield* Effect.flip(decoded(which))
            expect(error).toMatchObject({ _tag: "Transient", isRetryable: true, ...(reason ? { reason } : {}) })
          }).pipe(Effect.provide(front.layer({ script: [fault] })))
        )
      }

      it.effect("ends a stalled stream after the idle timeout, and the fake sees the connection close", () =>
        Effect.gen(function* () {
          const reading = yield* Effect.fork(decoded(which))
          yield* arrivalsUntil((all) => all[0]?.stream?.chunksSent === 2)
          yield* TestClock.adjust("5 seconds")
          const error = yield* Effect.flip(Fiber.join(reading))
          expect(error).toMatchObject({ _tag: "Transient", reason: "StreamStalled" })
          const closed = yield* arrivalsUntil((all) => all[0]?.stream?.state === "client-closed")
          expect(closed[0]?.stream?.chunksSent).toBe(2)
        }).pipe(Effect.provide(front.layer({ script: ["stream-stall"] })))
      )
    })
  }
}
