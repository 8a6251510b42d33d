import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import type { HttpClientError } from "@effect/platform"
import { Chunk, Duration, Effect, Layer, Schedule, Stream, TestServices } from "effect"
import * as FakeGrok from "../../src/testing/FakeGrok.js"

/** A front end of the fake: both provide an `HttpClient` that reaches it and the `FakeGrok` service. */
export interface Front {
  readonly name: string
  readonly layer: (scenario?: FakeGrok.Scenario) => Layer.Layer<HttpClient.HttpClient | FakeGrok.FakeGrok>
}

export const socket: Front = {
  name: "over a loopback socket",
  layer: (scenario) => Layer.merge(FakeGrok.layer(scenario), FetchHttpClient.layer)
}

export const inProcess: Front = {
  name: "in process",
  layer: (scenario) => FakeGrok.layerClient(scenario)
}

export const fronts: ReadonlyArray<Front> = [socket, inProcess]

export interface Exchange {
  readonly method?: "GET" | "POST" | "DELETE"
  readonly path: string
  readonly body?: unknown
  /** The bearer token; default the fake's own, `null` for none. */
  readonly key?: string | null
}

const requestFor = (fake: FakeGrok.Service, exchange: Exchange) => {
  const method = exchange.method ?? (exchange.body === undefined ? "GET" : "POST")
  const base = HttpClientRequest.make(method)(`${fake.url}${exchange.path}`)
  const withBody = exchange.body === undefined ? base : HttpClientRequest.bodyUnsafeJson(base, exchange.body)
  const key = exchange.key === undefined ? fake.apiKey : exchange.key
  return key === null ? withBody : HttpClientRequest.bearerToken(withBody, key)
}

export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/** Sends one request and reads the whole body as text. */
export const send = (exchange: Exchange): Effect.Effect<Reply, HttpClientError.HttpClientError, Deps> =>
  Effect.gen(function* () {
    const fake = yield* FakeGrok.FakeGrok
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(requestFor(fake, exchange))
    return { status: response.status, headers: response.headers, text: yield* response.text }
  })

type Deps = HttpClient.HttpClient | FakeGrok.FakeGrok

/** One SSE event: its `event:` name, if any, and its `data:` text. */
export interface Frame {
  readonly event?: string
  readonly data: string
}

/** Splits SSE text into events (a test's own reader, independent of the client's parser). */
export const framesOf = (text: string): Array<Frame> =>
  text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n")
      const event = lines.find((line) => line.startsWith("event: "))?.slice("event: ".length)
      const data = lines
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice("data: ".length))
        .join("\n")
      return event === undefined ? { data } : { event, data }
    })

/** Opens a streamed request and reads its first `n` SSE events, then lets go of the body. */
export const firstFrames = (exchange: Exchange, n: number) =>
  Effect.gen(function* () {
    const fake = yield* FakeGrok.FakeGrok
    const http = yield* HttpClient.HttpClient
    const response = yield* http.execute(requestFor(fake, exchange))
    const events = yield* response.stream.pipe(
      Stream.decodeText(),
      Stream.splitLines,
      Stream.mapAccum([] as ReadonlyArray<string>, (lines, line) =>
        line === "" ? [[], lines.length > 0 ? [lines.join("\n")] : []] : [[...lines, line], []]
      ),
      Stream.flattenIterables,
      Stream.take(n),
      Stream.runCollect
    )
    return { status: response.status, frames: framesOf(Chunk.toArray(events).join("\n\n")) }
  })

/** Polls the fake's arrivals in real time until `until` holds (for socket events that land asynchronously). */
export const arrivalsUntil = (until: (arrivals: ReadonlyArray<FakeGrok.Arrival>) => boolean) =>
  Effect.flatMap(FakeGrok.FakeGrok, (fake) =>
    fake.arrivals.pipe(
      Effect.filterOrFail(until),
      Effect.retry(Schedule.spaced("5 millis")),
      Effect.timeout(Duration.seconds(10)),
      Effect.orDie,
      TestServices.provideLive
    )
  )

export const chatBody = (content = "hello there", extra: Record<string, unknown> = {}) => ({
  model: "grok-4",
  messages: [{ role: "user", content }],
  ...extra
})

export const responsesBody = (input: unknown = "hello there", extra: Record<string, unknown> = {}) => ({
  model: "grok-4",
  input,
  ...extra
})
