import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Option, Tracer } from "effect"
import { spanned } from "../src/internal/pipeline/span.js"

class Extra extends Context.Tag("test/Extra")<Extra, string>() {}

const parentOf = (span: Tracer.AnySpan): Tracer.Span => {
  if (span._tag !== "Span" || Option.isNone(span.parent) || span.parent.value._tag !== "Span")
    throw new Error("no parent")
  return span.parent.value
}

describe("spanned (the call path's spans)", () => {
  it.effect("makes a child of the current span, the parent of inner spans, with the fiber's annotations", () =>
    Effect.gen(function* () {
      const inner = yield* spanned(
        "grok.test",
        { "grok.model": "grok-4" },
        Effect.withSpan(Effect.orDie(Effect.currentSpan), "inner"),
        (context, span) => Context.add(Context.add(context, Extra, "added"), Tracer.ParentSpan, span)
      ).pipe(Effect.withSpan("outer"), Effect.annotateSpans("env", "test"))
      const mine = parentOf(inner)
      expect(mine.name).toBe("grok.test")
      expect(parentOf(mine).name).toBe("outer")
      expect(mine.attributes.get("grok.model")).toBe("grok-4")
      expect(mine.attributes.get("env")).toBe("test")
      expect(mine.status._tag).toBe("Ended")
      expect(inner.status._tag).toBe("Ended")
    })
  )

  it.effect("adds to the context only for the inner effect, and ends the span with the failure", () =>
    Effect.gen(function* () {
      let seen: Option.Option<string> = Option.none()
      let span: Tracer.Span | undefined
      const exit = yield* Effect.exit(
        spanned(
          "grok.test",
          {},
          Effect.gen(function* () {
            seen = yield* Effect.serviceOption(Extra)
            span = yield* Effect.orDie(Effect.currentSpan)
            return yield* Effect.fail("refused")
          }),
          (context, span) => Context.add(Context.add(context, Extra, "added"), Tracer.ParentSpan, span)
        )
      )
      expect(exit).toEqual(Exit.fail("refused"))
      expect(seen).toEqual(Option.some("added"))
      expect(yield* Effect.serviceOption(Extra)).toEqual(Option.none())
      expect(yield* Effect.serviceOption(Tracer.ParentSpan)).toEqual(Option.none())
      expect(span?.status._tag === "Ended" && Exit.isFailure(span.status.exit)).toBe(true)
    })
  )

  it.effect("with tracing disabled runs the effect under a span that is not propagated", () =>
    Effect.gen(function* () {
      const inner = yield* spanned("grok.test", {}, Effect.orDie(Effect.currentSpan)).pipe(
        Effect.withTracerEnabled(false)
      )
      expect(inner.name).toBe("grok.test")
      expect(Context.get(inner.context, Tracer.DisablePropagation)).toBe(true)
    })
  )
})
