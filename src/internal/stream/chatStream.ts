/**
 * Decodes a streamed chat completion: SSE `data:` lines of `ChatCompletionChunk` JSON ending with `data: [DONE]`.
 *
 * The stream is whole only when every choice it named has a `finish_reason` and `[DONE]` arrived; it stops reading
 * at `[DONE]`. Anything else ends it with a typed error carrying what was received: the body ends first
 * (`StreamCut`), goes silent (`StreamStalled`), sends an error event (classified like an error body), sends a
 * chunk that does not decode (`MalformedBody`), or is not an event stream at all (classified as a whole body).
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import type * as Stream from "effect/Stream"
import * as GrokApi from "../../GrokApi.js"
import type * as GrokError from "../../GrokError.js"
import type { StreamAnswer } from "./answer.js"
import * as Engine from "./engine.js"
import * as Failure from "./failure.js"
import type { SseEvent } from "./sse.js"

/** An event whose data is an error object rather than a chunk: `{"error": ...}` with no `choices`. */
const isErrorPayload = (json: unknown) => Predicate.isRecord(json) && "error" in json && !("choices" in json)

const chatProtocol =
  (answer: StreamAnswer) =>
  (progress: Failure.Progress): Engine.Protocol<GrokApi.ChatCompletionChunk> => {
    const finished = new Map<number, boolean>()
    const whole = () => finished.size > 0 && [...finished.values()].every(Boolean)
    const malformed = (detail: string, data: string) =>
      Engine.fail(() => Failure.transient(answer, "MalformedBody", detail), data)

    const onChunk = (data: string): Engine.Step<GrokApi.ChatCompletionChunk> => {
      const json = Engine.parseJson(data)
      if (Either.isLeft(json)) return malformed(`an event's data is not JSON: ${json.left}`, data)
      if (isErrorPayload(json.right)) return Engine.fail((now) => Failure.eventError(answer, json.right, now), data)
      const chunk = GrokApi.decodeChatCompletionChunk(json.right)
      if (Either.isLeft(chunk)) {
        return malformed(`a chunk does not decode: ${ParseResult.TreeFormatter.formatErrorSync(chunk.left)}`, data)
      }
      for (const choice of chunk.right.choices) {
        const ended = finished.get(choice.index) === true || (choice.finish_reason ?? null) !== null
        finished.set(choice.index, ended)
        if (choice.index === 0 && typeof choice.delta.content === "string")
          Failure.addText(progress, choice.delta.content)
      }
      progress.chunks += 1
      return Engine.next([chunk.right])
    }

    const onEvent = (event: SseEvent): Engine.Step<GrokApi.ChatCompletionChunk> => {
      if (event.event === "error") {
        const json = Engine.parseJson(event.data)
        return Engine.fail(
          (now) =>
            Failure.eventError(
              answer,
              Either.getOrElse(json, () => ({})),
              now
            ),
          event.data
        )
      }
      if (event.event === "ping" || event.data.trim().length === 0) return Engine.next([])
      if (event.data.trim() === "[DONE]") {
        return whole()
          ? Engine.done([])
          : Engine.fail(() => Failure.transient(answer, "StreamCut", "[DONE] arrived before every choice finished"))
      }
      return onChunk(event.data)
    }

    const onEnd = () =>
      Engine.fail(() =>
        Failure.transient(
          answer,
          "StreamCut",
          whole()
            ? "the stream ended after the finish_reason but without [DONE]"
            : "the stream ended before a finish_reason"
        )
      )

    return { onEvent, onEnd }
  }

/** The chunks of a streamed chat completion, from its raw body. */
export const decodeChatStream = <E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  answer: StreamAnswer
): Stream.Stream<GrokApi.ChatCompletionChunk, GrokError.GrokError, R> => Engine.run(body, answer, chatProtocol(answer))
