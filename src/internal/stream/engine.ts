/**
 * Runs a stream protocol (chat chunks, Responses events) over a raw body: frames the bytes, hands each event to the
 * protocol, stops reading at the protocol's terminal event, and ends every other way with a typed error that
 * carries what was received. The idle timeout restarts with every pull of the body that yields bytes and runs on
 * Effect's `Clock`, so `TestClock` drives it.
 */
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import type * as GrokError from "../../GrokError.js"
import { DEFAULT_MAX_EVENT_BYTES, isWholeBody, type StreamAnswer } from "./answer.js"
import * as Failure from "./failure.js"
import { type Frame, makeFramer } from "./framing.js"
import type { SseEvent } from "./sse.js"

/** A failure of the stream, built when the clock is read; `body` is the raw event data, kept on the error. */
export interface FailStep {
  readonly _tag: "Fail"
  readonly error: (nowMillis: number) => GrokError.GrokError
  readonly body?: string
}

/** What one event means: more to come, the end of a whole answer, or a failure. */
export type Step<A> =
  | { readonly _tag: "Continue"; readonly items: ReadonlyArray<A> }
  | { readonly _tag: "Done"; readonly items: ReadonlyArray<A> }
  | FailStep

export interface Protocol<A> {
  readonly onEvent: (event: SseEvent) => Step<A>
  /** The body ended before a terminal event: a failure, or (for a protocol that allows it) a whole answer. */
  readonly onEnd: () => Exclude<Step<A>, { readonly _tag: "Continue" }>
}

export const next = <A>(items: ReadonlyArray<A>): Step<A> => ({ _tag: "Continue", items })
export const done = <A>(items: ReadonlyArray<A>): Step<A> => ({ _tag: "Done", items })
export const fail = (error: (nowMillis: number) => GrokError.GrokError, body?: string): FailStep =>
  body === undefined ? { _tag: "Fail", error } : { _tag: "Fail", error, body }

/** JSON.parse as a value: the parsed JSON, or why the text is not JSON. */
export const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    return Either.left(error instanceof Error ? error.message : String(error))
  }
}

interface Outcome<A> {
  readonly items: Array<A>
  readonly end: Step<A>
}

const consume = <A>(protocol: Protocol<A>, answer: StreamAnswer, frames: ReadonlyArray<Frame>, items: Array<A>) => {
  for (const frame of frames) {
    const step =
      frame._tag === "Body" ? fail((now) => Failure.wholeBody(answer, frame.text, now)) : protocol.onEvent(frame.event)
    if (step._tag !== "Fail") items.push(...step.items)
    if (step._tag !== "Continue") return step
  }
  return undefined
}

export const run = <A, E, R>(
  body: Stream.Stream<Uint8Array, E, R>,
  answer: StreamAnswer,
  makeProtocol: (progress: Failure.Progress) => Protocol<A>
): Stream.Stream<A, GrokError.GrokError, R> =>
  Stream.suspend(() => {
    const secrets = answer.secrets ?? []
    const progress = Failure.makeProgress()
    const protocol = makeProtocol(progress)
    const framer = makeFramer({
      wholeBody: isWholeBody(answer),
      maxBytes: answer.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES
    })
    const finalize = (error: GrokError.GrokError, raw?: string) => Failure.withReceived(error, progress, secrets, raw)

    const onInput = (input: Chunk.Chunk<Uint8Array>): Outcome<A> => {
      const items: Array<A> = []
      for (const bytes of input) {
        const frames = framer.feed(bytes)
        if (Either.isLeft(frames)) return { items, end: fail(() => Failure.tooLarge(answer, frames.left)) }
        const end = consume(protocol, answer, frames.right, items)
        if (end !== undefined) return { items, end }
      }
      return { items, end: next([]) }
    }

    const onDone = (): Outcome<A> => {
      const items: Array<A> = []
      return { items, end: consume(protocol, answer, framer.end(), items) ?? protocol.onEnd() }
    }

    type Out = Channel.Channel<Chunk.Chunk<A>, Chunk.Chunk<Uint8Array>, GrokError.GrokError, GrokError.GrokError>
    const emit = (outcome: Outcome<A>, then: () => Out): Out => {
      const write: Out = outcome.items.length > 0 ? Channel.write(Chunk.unsafeFromArray(outcome.items)) : Channel.void
      const end = outcome.end
      if (end._tag === "Continue") return Channel.zipRight(write, Channel.suspend(then))
      if (end._tag === "Done") return write
      const failure = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(finalize(end.error(now), end.body)))
      return Channel.zipRight(write, Channel.fromEffect(failure))
    }
    const loop: Out = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => emit(onInput(input), () => loop),
      onFailure: (cause: Cause.Cause<GrokError.GrokError>) => Channel.failCause(cause),
      onDone: () => emit(onDone(), () => Channel.void)
    })

    const timed = body.pipe(
      Stream.mapError((cause) => finalize(Failure.bodyFailure(answer, cause))),
      Stream.timeoutFailCause(() => Cause.fail(finalize(Failure.stalled(answer))), answer.idleTimeout)
    )
    return Stream.pipeThroughChannelOrFail(timed, loop)
  })
