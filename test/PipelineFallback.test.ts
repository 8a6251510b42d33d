import { NodeSdk } from "@effect/opentelemetry"
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Metric } from "effect"
import * as GrokMetrics from "../src/GrokMetrics.js"
import { fallbacksTotal } from "../src/internal/fallbackMetrics.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { runCalls } from "./support/virtualGrok.js"

const grok4Down = (model: string) => model === "grok-4"
const fallbacks = (from: string, to: string) =>
  Metric.value(GrokMetrics.withLabels(fallbacksTotal, { from, to, error: "Rejected" }))

describe("the fallback stage", () => {
  it.effect("grok-4 down for the whole run: 100/100 answered by grok-4-fast, 5 requests to grok-4", () =>
    Effect.gen(function* () {
      const before = (yield* fallbacks("grok-4", "grok-4-fast")).count
      const { ok, sent } = yield* runCalls({
        calls: 100,
        concurrency: 20,
        plan: { down: grok4Down },
        options: { fallbackModels: ["grok-4-fast"] }
      })
      expect(ok.length).toBe(100)
      expect(ok.every((result) => result.model === "grok-4-fast" && result.completion.model === "grok-4-fast")).toBe(
        true
      )
      // The cold start lets 5 of the first wave out to grok-4; their failures open its breaker, and from then on
      // every call moves on at once instead of waiting for its probe.
      expect(sent.filter((s) => s.model === "grok-4").length).toBe(5)
      expect(sent.filter((s) => s.model === "grok-4-fast").length).toBe(100)
      // An attempt the breaker refuses was never sent and does not count: attempts add up to the requests sent.
      expect(ok.reduce((sum, result) => sum + result.attempts, 0)).toBe(sent.length)
      // Each first-wave call retried once into the open breaker: it gave grok-4 up on CircuitOpen, like the rest.
      expect((yield* fallbacks("grok-4", "grok-4-fast")).count - before).toBe(100)
    })
  )

  it.effect("without a breaker it moves on once the primary's retries are spent", () =>
    Effect.gen(function* () {
      const { ok, sent } = yield* runCalls({
        calls: 1,
        concurrency: 1,
        plan: { down: grok4Down },
        options: { breaker: false, retry: RetryPolicy.make({ maxAttempts: 3 }), fallbackModels: ["grok-4-fast"] }
      })
      expect(sent.map((s) => s.model)).toEqual(["grok-4", "grok-4", "grok-4", "grok-4-fast"])
      expect(ok[0]!.attempts).toBe(4)
      expect(ok[0]!.model).toBe("grok-4-fast")
    })
  )

  it.effect("goes down the list in order, skipping repeats, and fails with the last model's error", () =>
    Effect.gen(function* () {
      const { failed, sent } = yield* runCalls({
        calls: 1,
        concurrency: 1,
        plan: { down: () => true },
        options: {
          breaker: false,
          retry: RetryPolicy.make({ maxAttempts: 1 }),
          fallbackModels: ["grok-4", "grok-3", "grok-4", "grok-3-mini"]
        }
      })
      expect(sent.map((s) => s.model)).toEqual(["grok-4", "grok-3", "grok-3-mini"])
      expect(failed[0]!._tag).toBe("Transient")
    })
  )

  it.effect("a call's fallbackModels replaces the client's, and [] turns fallback off", () =>
    Effect.gen(function* () {
      const { ok, failed } = yield* runCalls({
        calls: 2,
        concurrency: 1,
        plan: { down: grok4Down },
        options: { breaker: false, retry: RetryPolicy.make({ maxAttempts: 1 }), fallbackModels: ["grok-4-fast"] },
        callOptions: (index) => ({ fallbackModels: index === 0 ? ["grok-3"] : [] })
      })
      expect(ok.map((result) => result.model)).toEqual(["grok-3"])
      expect(failed.map((error) => error._tag)).toEqual(["Transient"])
    })
  )

  it.effect("does not move on after an error any model would share: a refused key", () =>
    Effect.gen(function* () {
      const { failed, sent } = yield* runCalls({
        calls: 1,
        concurrency: 1,
        plan: { keys: ["another-key"] },
        options: { fallbackModels: ["grok-4-fast"] }
      })
      expect(failed[0]!._tag).toBe("AuthError")
      expect(sent.map((s) => s.model)).toEqual(["grok-4"])
    })
  )

  it.effect("attempt spans name the model tried and the call span the model that answered", () =>
    Effect.gen(function* () {
      const exporter = new InMemorySpanExporter()
      const spans = yield* Effect.gen(function* () {
        yield* runCalls({
          calls: 1,
          concurrency: 1,
          plan: { down: grok4Down },
          options: { breaker: false, retry: RetryPolicy.make({ maxAttempts: 1 }), fallbackModels: ["grok-4-fast"] }
        })
        return exporter.getFinishedSpans()
      }).pipe(
        Effect.provide(
          NodeSdk.layer(() => ({
            resource: { serviceName: "fallback-test" },
            spanProcessor: new SimpleSpanProcessor(exporter)
          }))
        )
      )
      const attempts = spans.filter((span) => span.name === "grok.attempt").map((span) => span.attributes["grok.model"])
      expect(attempts).toEqual(["grok-4", "grok-4-fast"])
      const chat = spans.find((span) => span.name === "grok.chat")!
      expect(chat.attributes["grok.model"]).toBe("grok-4")
      expect(chat.attributes["grok.answered_model"]).toBe("grok-4-fast")
    })
  )
})
