/**
 * The grok-resilience rows of the stream scenario: `chat(..., { stream: true })`, `chatStream` (with
 * `RetryPolicy.none`, and with the standard policy), `responses.create(..., { stream: true })` and
 * `responses.stream` with `RetryPolicy.none`. One client per row over `FetchHttpClient`, idle timeout 1 s, no
 * rate limiter (the scenario has no quota).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { GrokApi, GrokClient, type GrokError, RetryPolicy } from "../../src/index.js"
import { type CallRecord, type End, judgeText, silenceWatch } from "./outcome.js"
import { type Target, wholeOrTyped, wholeTarget } from "./report.js"
import * as Scenario from "./scenario.js"

/** The benchmark's own watchdog fired: not an error of the client. */
class Hung {
  readonly _tag = "BenchHung"
}

export interface GrokRow {
  readonly id: string
  readonly label: string
  /** Whether the consumer sees the items (a stream) or only the result (a collected call). */
  readonly streamed: boolean
  /** The path the calls go to, for counting the arrivals. */
  readonly path: string
  readonly target: Target
  readonly call: (grok: GrokClient.Service, index: number) => Effect.Effect<CallRecord>
}

const chatRequest = (index: number): GrokApi.ChatRequest => ({
  model: Scenario.MODEL,
  messages: [{ role: "user", content: Scenario.prompt(index) }]
})

const responseRequest = (index: number): GrokApi.ResponseRequest => ({
  model: Scenario.MODEL,
  input: Scenario.prompt(index)
})

const kindOf = (error: GrokError.GrokError): string =>
  "reason" in error && typeof error.reason === "string" ? `${error._tag}(${error.reason})` : error._tag

const endOf = (exit: Exit.Exit<string, GrokError.GrokError | Hung>, expected: string): End =>
  Exit.match(exit, {
    onSuccess: (text) => judgeText(text, expected),
    onFailure: (cause): End => {
      const failure = Cause.failureOption(cause)
      if (Option.isNone(failure)) return { _tag: "Defect", message: Cause.pretty(cause).split("\n")[0] ?? "" }
      return failure.value instanceof Hung ? { _tag: "Hung" } : { _tag: "Failed", kind: kindOf(failure.value) }
    }
  })

/** A call whose result is the whole text: hung only when it has no result after `COLLECTED_HANG_MILLIS`. */
const collected = (index: number, call: Effect.Effect<string, GrokError.GrokError>): Effect.Effect<CallRecord> =>
  Effect.suspend(() => {
    const watch = silenceWatch()
    return call.pipe(
      Effect.timeoutFail({ duration: Scenario.COLLECTED_HANG_MILLIS, onTimeout: () => new Hung() }),
      Effect.exit,
      Effect.map((exit) => watch.record(endOf(exit, Scenario.expected(index))))
    )
  })

/** A stream read item by item: hung when no item (or end) comes for `HANG_MILLIS`; the text is joined as it comes. */
const streamed = <A>(
  index: number,
  items: Stream.Stream<A, GrokError.GrokError>,
  textOf: (item: A) => string
): Effect.Effect<CallRecord> =>
  Effect.suspend(() => {
    const watch = silenceWatch()
    let text = ""
    return items.pipe(
      Stream.timeoutFail(() => new Hung(), Scenario.HANG_MILLIS),
      Stream.runForEach((item) =>
        Effect.sync(() => {
          watch.item()
          text += textOf(item)
        })
      ),
      Effect.exit,
      Effect.map((exit) =>
        watch.record(
          endOf(
            Exit.map(exit, () => text),
            Scenario.expected(index)
          )
        )
      )
    )
  })

const chunkText = (chunk: GrokApi.ChatCompletionChunk): string =>
  chunk.choices.find((choice) => choice.index === 0)?.delta.content ?? ""

const isTextDelta = GrokApi.isResponseEvent("response.output_text.delta")
const eventText = (event: GrokApi.ResponseEvent): string => (isTextDelta(event) ? event.delta : "")

const CHAT = "/v1/chat/completions"
const RESPONSES = "/v1/responses"

export const rows: ReadonlyArray<GrokRow> = [
  {
    id: "chat",
    label: "grok-resilience `chat(..., { stream: true })`",
    streamed: false,
    path: CHAT,
    target: wholeTarget,
    call: (grok, index) =>
      collected(
        index,
        Effect.map(grok.chat(chatRequest(index), { stream: true }), (result) => result.content ?? "")
      )
  },
  {
    id: "chatStream",
    label: "grok-resilience `chatStream`, `RetryPolicy.none`",
    streamed: true,
    path: CHAT,
    target: wholeOrTyped(true),
    call: (grok, index) => streamed(index, grok.chatStream(chatRequest(index), { retry: RetryPolicy.none }), chunkText)
  },
  {
    id: "chatStream-retry",
    label: "grok-resilience `chatStream`, standard policy",
    streamed: true,
    path: CHAT,
    target: wholeOrTyped(false),
    call: (grok, index) => streamed(index, grok.chatStream(chatRequest(index)), chunkText)
  },
  {
    id: "responses.create",
    label: "grok-resilience `responses.create(..., { stream: true })`",
    streamed: false,
    path: RESPONSES,
    target: wholeTarget,
    call: (grok, index) =>
      collected(
        index,
        Effect.map(grok.responses.create(responseRequest(index), { stream: true }), (result) => result.text)
      )
  },
  {
    id: "responses.stream",
    label: "grok-resilience `responses.stream`, `RetryPolicy.none`",
    streamed: true,
    path: RESPONSES,
    target: wholeOrTyped(true),
    call: (grok, index) =>
      streamed(index, grok.responses.stream(responseRequest(index), { retry: RetryPolicy.none }), eventText)
  }
]

/** Runs one row's calls at the scenario's concurrency against `target`, with a client of its own. */
export const runRow = (
  row: GrokRow,
  target: { readonly url: string; readonly apiKey: string },
  calls: number
): Promise<ReadonlyArray<CallRecord>> => {
  const live = GrokClient.layer({
    apiKey: Redacted.make(target.apiKey),
    baseUrl: target.url,
    idleTimeout: Scenario.IDLE_TIMEOUT_MILLIS
  }).pipe(Layer.provide(FetchHttpClient.layer))
  const program = Effect.flatMap(GrokClient.GrokClient, (grok) =>
    Effect.forEach(
      Array.from({ length: calls }, (_, index) => index),
      (index) => row.call(grok, index),
      { concurrency: Scenario.CONCURRENCY }
    )
  )
  // The client logs every retry as a warning; the benchmark counts from the results and the server instead.
  return Effect.runPromise(program.pipe(Effect.provide(live), Logger.withMinimumLogLevel(LogLevel.None)))
}
