/**
 * Decodes a streamed Responses API answer: SSE events whose data carries a `type` (the SSE `event:` name stands
 * in when it does not).
 *
 * `response.completed` ends the stream whole, and so does `response.incomplete`: xAI stopped at a limit the caller
 * set (`max_output_tokens`) and says so in `incomplete_details`, which is an answer, not a fault, and retrying would
 * stop at the same limit. `response.failed` and `error` are classified like error bodies. Unknown event types pass
 * through. A body that ends before a terminal event is `StreamCut`; the rest is as for chat.
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import type * as Stream from "effect/Stream"
import type * as GrokError from "../../GrokError.js"
import * as Responses from "../api/responses.js"
import type { StreamAnswer } from "./answer.js"
import * as Engine from "./engine.js"
import * as Failure from "./failure.js"
import type { SseEvent } from "./sse.js"

type Event = Responses.ResponseEvent

const isTextDelta = Responses.isResponseEvent("response.output_text.delta")
const isFailed = Responses.isResponseEvent("response.failed")

/** The event's JSON with its `type`, taken from the SSE event name when the data has none. */
const typed = (event: SseEvent, json: unknown): unknown =>
  Predicate.isRecord(json) && typeof json.type !== "string" && event.event !== "message"
    ? { ...json, type: event.event }
    : json

const isErrorEvent = (event: SseEvent, json: unknown) =>
  event.event === "error" ||
  (Predicate.isRecord(json) && (json.type === "error" || (json.type === undefined && "error" in json)))

const responseProtocol =
  (answer: StreamAnswer) =>
  (progress: Failure.Progress): Engine.Protocol<Event> => {
    const malformed = (detail: string, data: string) =>
      Engine.fail(() => Failure.transient(answer, "MalformedBody", detail), data)

    const onDecoded = (event: Event, data: string): Engine.Step<Event> => {
      if (isFailed(event)) {
        const payload = { error: event.response.error ?? null, status: event.response.status }
        return Engine.fail((now) => Failure.eventError(answer, payload, now, "the response failed"), data)
      }
      if (isTextDelta(event)) Failure.addText(progress, event.delta)
      progress.chunks += 1
      return Responses.terminalTypes.has(event.type) ? Engine.done([event]) : Engine.next([event])
    }

    const onEvent = (event: SseEvent): Engine.Step<Event> => {
      if (event.data.trim().length === 0) {
        return event.event === "error" ? Engine.fail((now) => Failure.eventError(answer, {}, now)) : Engine.next([])
      }
      if (event.data.trim() === "[DONE]") {
        return Engine.fail(() => Failure.transient(answer, "StreamCut", "[DONE] arrived before a terminal event"))
      }
      const json = Engine.parseJson(event.data)
      if (Either.isLeft(json)) {
        return event.event === "ping"
          ? Engine.next([])
          : malformed(`an event's data is not JSON: ${json.left}`, event.data)
      }
      if (isErrorEvent(event, json.right)) {
        return Engine.fail((now) => Failure.eventError(answer, json.right, now), event.data)
      }
      const decoded = Responses.decodeResponseEvent(typed(event, json.right))
      if (Either.isLeft(decoded)) {
        const why = ParseResult.TreeFormatter.formatErrorSync(decoded.left)
        return malformed(`an event does not decode: ${why}`, event.data)
      }
      return onDecoded(decoded.right, event.data)
    }

    const onEnd = () =>
      Engine.fail(() =>
        Failure.transient(answer, "StreamCut", "the stream ended before response.completed or another terminal event")
      )

    return { onEvent, onEnd }
  }

/** The events of a streamed Responses API answer, from its raw body. */
export const decodeResponseStream = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  answer: StreamAnswer
): Stream.Stream<Event, GrokError.GrokError, R> => Engine.run(body, answer, responseProtocol(answer))
