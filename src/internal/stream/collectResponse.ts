/**
 * The final `Response` of a streamed Responses API answer: the `response` of its terminal event
 * (`response.completed`, or `response.incomplete` when a limit stopped it). Should the terminal response list no
 * output while the stream announced items (`response.output_item.done`), those items stand in for it.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as GrokError from "../../GrokError.js"
import * as Responses from "../api/responses.js"
import * as Failure from "./failure.js"

export interface ResponseCollector {
  readonly add: (event: Responses.ResponseEvent) => void
  readonly result: () => Either.Either<Responses.Response, GrokError.Transient>
}

const isTextDelta = Responses.isResponseEvent("response.output_text.delta")
const isItemDone = Responses.isResponseEvent("response.output_item.done")

const isTerminal = (
  event: Responses.ResponseEvent
): event is Responses.ResponseEventOf<"response.completed" | "response.done" | "response.incomplete"> =>
  Responses.terminalTypes.has(event.type)

export const responseCollector = (): ResponseCollector => {
  const progress = Failure.makeProgress()
  const items = new Map<number, Responses.OutputItem>()
  let terminal: Responses.Response | undefined

  const add = (event: Responses.ResponseEvent) => {
    progress.chunks += 1
    if (isTextDelta(event)) Failure.addText(progress, event.delta)
    else if (isItemDone(event)) items.set(event.output_index ?? items.size, event.item)
    else if (isTerminal(event)) terminal = event.response
  }

  const result = (): Either.Either<Responses.Response, GrokError.Transient> => {
    if (terminal === undefined) {
      return Either.left(
        new GrokError.Transient({
          reason: "StreamCut",
          detail: "the events hold no response.completed or other terminal event",
          received: { ...progress }
        })
      )
    }
    if (terminal.output.length > 0 || items.size === 0) return Either.right(terminal)
    const output = [...items.entries()].sort(([a], [b]) => a - b).map(([, item]) => item)
    return Either.right({ ...terminal, output })
  }

  return { add, result }
}

/** The final response of these events (as `decodeResponseStream` yields them). */
export const collectResponse = (
  events: Iterable<Responses.ResponseEvent>
): Either.Either<Responses.Response, GrokError.Transient> => {
  const collector = responseCollector()
  for (const event of events) collector.add(event)
  return collector.result()
}

/** Runs an event stream to its end and returns its final response. */
export const collectResponseStream = <E, R>(
  events: Stream.Stream<Responses.ResponseEvent, E, R>
): Effect.Effect<Responses.Response, E | GrokError.Transient, R> =>
  Effect.suspend(() => {
    const collector = responseCollector()
    return Stream.runForEach(events, (event) => Effect.sync(() => collector.add(event))).pipe(
      Effect.flatMap(() => collector.result())
    )
  })
