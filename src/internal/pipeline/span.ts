/**
 * Spans of the call path for less than `Effect.withSpan`: the span is made, set as the parent of what runs inside
 * (with anything else the stage adds to the context in the same write) and ended, with the context restored, in one
 * exit handler instead of two.
 */
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as FiberClock from "../fiberClock.js"

/** `Effect.annotateCurrentSpan` for code that holds the fiber: external spans take no attributes. */
export const annotate = (span: Tracer.AnySpan | undefined, key: string, value: unknown): void => {
  if (span?._tag === "Span") span.attribute(key, value)
}

/**
 * The span as `Effect.makeSpan` makes it (the context's parent span, the fiber's span annotations and links), read
 * from the fiber without a copy of its FiberRefs; undefined where `Effect.makeSpan` must decide (tracing disabled,
 * propagation disabled on the parent).
 */
const unsafeSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: Tracer.SpanOptions
): Tracer.Span | undefined => {
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return undefined
  const parent = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
  if (Option.isSome(parent) && Context.get(parent.value.context, Tracer.DisablePropagation)) return undefined
  const clock = FiberClock.clockOf(fiber)
  const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
  const links = Chunk.toReadonlyArray(fiber.getFiberRef(FiberRef.currentTracerSpanLinks))
  const span = fiber.currentTracer.span(
    name,
    parent,
    Context.empty(),
    links,
    timed ? clock.unsafeCurrentTimeNanos() : BigInt(0),
    "internal",
    options
  )
  HashMap.forEach(fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations), (value, key) => span.attribute(key, value))
  for (const key in options.attributes) span.attribute(key, options.attributes[key])
  return span
}

/** The context a span's effect runs in, made from the caller's and the span. */
export type Inside = (context: Context.Context<never>, span: Tracer.Span) => Context.Context<never>

const withParent: Inside = (context, span) => Context.add(context, Tracer.ParentSpan, span)

/** What a span's one exit handler runs first, set by what runs inside it (the call's record, in the call span). */
export interface Ending {
  last:
    | ((
        fiber: Fiber.RuntimeFiber<unknown, unknown>,
        exit: Exit.Exit<unknown, unknown>
      ) => Effect.Effect<void> | undefined)
    | undefined
}

/**
 * Runs `effect` in the span `name`, the parent of the spans it makes. `inside` makes the context it runs in from the
 * caller's and the span (the span as `Tracer.ParentSpan`), and may add more in the same copy.
 * The call sites are this library's own: no stack trace is captured.
 */
export const spanned = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>,
  inside: Inside = withParent
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const options = { attributes, captureStackTrace: false }
    const span = unsafeSpan(fiber, name, options)
    return span === undefined
      ? Effect.flatMap(Effect.makeSpan(name, options), (made) => within(fiber, made, effect, inside, undefined))
      : within(fiber, span, effect, inside, undefined)
  })

/**
 * `spanned` for an effect made per run with its own `Ending`: what it sets there runs in the span's exit handler,
 * before the span ends, instead of in an exit handler of its own.
 */
export const spannedEnding = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  make: (ending: Ending) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime<A, E, R>((fiber) => {
    const options = { attributes, captureStackTrace: false }
    const ending: Ending = { last: undefined }
    const effect = make(ending)
    const span = unsafeSpan(fiber, name, options)
    return span === undefined
      ? Effect.flatMap(Effect.makeSpan(name, options), (made) => within(fiber, made, effect, withParent, ending))
      : within(fiber, span, effect, withParent, ending)
  })

/** Runs `effect` with `span` as its parent span, then runs the ending, ends the span and restores the context. */
const within = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  span: Tracer.Span,
  effect: Effect.Effect<A, E, R>,
  makeInside: Inside,
  ending: Ending | undefined
): Effect.Effect<A, E, R> => {
  const before = fiber.currentContext
  const clock = FiberClock.clockOf(fiber)
  const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
  const inside = makeInside(before, span)
  return Effect.onExit(Effect.zipRight(FiberRef.set(FiberRef.currentContext, inside), effect), (exit) => {
    const last = ending?.last?.(fiber, exit)
    const ended = Effect.zipRight(
      FiberRef.set(FiberRef.currentContext, before),
      Effect.sync(() => {
        if (span.status._tag !== "Ended") span.end(timed ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
      })
    )
    return last === undefined ? ended : Effect.zipRight(last, ended)
  })
}
