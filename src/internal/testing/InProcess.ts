/**
 * The in-process front end of the fake Grok server: an `HttpClient` that feeds each request to the engine and
 * plays the answer on Effect's `Clock` (latency, slow answers and the pause between stream chunks are
 * `Effect.sleep`s) with ids drawn from Effect's `Random`, so that under `TestClock` a test forks its calls,
 * adjusts the clock and joins, in no real time. A reset is a `RequestError` with reason `"Transport"`, as `fetch`
 * gives for a dropped connection; a stream is a web `ReadableStream` pulled frame by frame.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Random from "effect/Random"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type { Streamed } from "./Answer.js"
import * as Engine from "./Engine.js"
import { uuidFrom } from "./Generation.js"
import { prng } from "./Scenario.js"

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** The request body as text; a body that is neither bytes nor text (form data) reads as empty. */
const bodyText = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<string, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
    case "FormData":
      return Effect.succeed("")
    case "Uint8Array":
      return Effect.succeed(decoder.decode(body.body))
    case "Raw":
      return Effect.succeed(
        typeof body.body === "string" ? body.body : body.body instanceof Uint8Array ? decoder.decode(body.body) : ""
      )
    case "Stream":
      return body.stream.pipe(
        Stream.decodeText(),
        Stream.mkString,
        Effect.mapError((cause) => new HttpClientError.RequestError({ request, reason: "Encode", cause }))
      )
  }
}

/** The engine's view of now, on Effect's `Clock`, with ids from a PRNG seeded by Effect's `Random`. */
const clockEnv: Effect.Effect<Engine.Env> = Effect.gen(function* () {
  const nowMillis = yield* Clock.currentTimeMillis
  const next = prng(yield* Random.nextInt)
  return {
    nowMillis,
    wallMillis: nowMillis,
    ids: { next: () => uuidFrom(next), createdSeconds: Math.floor(nowMillis / 1000) }
  }
})

/** Statuses whose responses carry no body (`Response` refuses one). */
const NULL_BODY = new Set([204, 205, 304])

/**
 * The frames of a streamed reply as a `ReadableStream`: each pull waits `chunkMillis` on the caller's clock, then
 * yields the next frame; after the last it closes, or for a stall waits until the consumer cancels.
 */
const frameStream = (
  { frames, end }: Streamed,
  reply: Engine.Reply,
  runtime: Runtime.Runtime<never>,
  signal: AbortSignal
) => {
  let index = 0
  let cancelPull: (() => void) | undefined
  const closedByClient = () => {
    reply.progress.clientClosed()
    cancelPull?.()
  }
  signal.addEventListener("abort", closedByClient, { once: true })
  const nextFrame: Effect.Effect<string | undefined> = Effect.suspend(() => {
    if (index >= frames.length) return end === "close" ? Effect.succeed(undefined) : Effect.never
    const frame = frames[index++]!
    return reply.chunkMillis > 0 ? Effect.as(Effect.sleep(reply.chunkMillis), frame) : Effect.succeed(frame)
  })
  return new ReadableStream<Uint8Array>({
    pull: (controller) =>
      new Promise<void>((done) => {
        const cancel = Runtime.runCallback(runtime)(nextFrame, {
          onExit: (exit) => {
            cancelPull = undefined
            if (Exit.isSuccess(exit) && exit.value === undefined) {
              reply.progress.ended()
              controller.close()
            } else if (Exit.isSuccess(exit)) {
              reply.progress.sent()
              controller.enqueue(encoder.encode(exit.value))
            }
            done()
          }
        })
        cancelPull = () => cancel()
      }),
    cancel: closedByClient
  })
}

const webResponse = (reply: Engine.Reply, runtime: Runtime.Runtime<never>, signal: AbortSignal): Response => {
  if (reply.body._tag === "Stream") {
    return new Response(frameStream(reply.body, reply, runtime, signal), {
      status: reply.status,
      headers: reply.headers
    })
  }
  const text = reply.body.text
  const headers = { ...reply.headers, "content-length": String(encoder.encode(text).length) }
  return new Response(NULL_BODY.has(reply.status) ? null : text, { status: reply.status, headers })
}

const exchange = (
  engine: Engine.Engine,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  signal: AbortSignal
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.gen(function* () {
    const text = yield* bodyText(request)
    const tooLarge = encoder.encode(text).length > Engine.MAX_BODY_BYTES
    const body = tooLarge ? "" : text
    const authorization = request.headers["authorization"]
    const incoming = { method: request.method, path: url.pathname, query: url.search, authorization, body, tooLarge }
    const reply = engine.handle(incoming, yield* clockEnv)
    if (reply.delayMillis > 0) yield* Effect.sleep(reply.delayMillis)
    if (reply.reset) {
      const cause = new Error("The fake Grok server reset the connection")
      return yield* new HttpClientError.RequestError({ request, reason: "Transport", cause })
    }
    const runtime = yield* Effect.runtime<never>()
    return HttpClientResponse.fromWeb(request, webResponse(reply, runtime, signal))
  })

/** An `HttpClient` answering every request through `engine`, whatever its host. */
export const client = (engine: Engine.Engine): HttpClient.HttpClient =>
  HttpClient.make((request, url, signal) => exchange(engine, request, url, signal))

/** Now on Effect's `Clock`, for the engine's start and scenario changes. */
export const now: Effect.Effect<number> = Clock.currentTimeMillis
