/**
 * Spans of the call path for less than `Effect.withSpan`: the span is made, set as the parent of what runs inside
 * (with anything else the stage adds to the context in the same write) and ended, with the context restored, in one
 * exit handler instead of two.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Tracer from "effect/Tracer"

/** `Effect.annotateCurrentSpan` for code that holds the fiber: external spans take no attributes. */
export const annotate = (span: Tracer.AnySpan | undefined, key: string, value: unknown): void => {
  if (span?._tag === "Span") span.attribute(key, value)
}

/**
 * Runs `effect` in the span `name`, the parent of the spans it makes; `extend` may add more to the same context.
 * The call sites are this library's own: no stack trace is captured.
 */
export const spanned = <A, E, R>(
  name: string,
  attributes: Record<string, unknown>,
  effect: Effect.Effect<A, E, R>,
  extend: (context: Context.Context<never>) => Context.Context<never> = (context) => context
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.makeSpan(name, { attributes, captureStackTrace: false }), (span) =>
    Effect.withFiberRuntime<A, E, R>((fiber) => {
      const before = fiber.currentContext
      const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
      const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
      const inside = Context.add(extend(before), Tracer.ParentSpan, span)
      return Effect.onExit(Effect.zipRight(FiberRef.set(FiberRef.currentContext, inside), effect), (exit) =>
        Effect.zipRight(
          FiberRef.set(FiberRef.currentContext, before),
          Effect.sync(() => {
            if (span.status._tag !== "Ended") span.end(timed ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
          })
        )
      )
    })
  )
