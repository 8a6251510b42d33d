import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as GrokClient from "../src/GrokClient.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as VirtualGrok from "./support/virtualGrok.js"
import { API_KEY, BASE_URL, outageUntil, runCalls } from "./support/virtualGrok.js"

const forever = outageUntil(Number.POSITIVE_INFINITY)

describe("the retry budget in the retry stage", () => {
  it.effect("stops retrying when the budget is spent, and the error says why", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 10 })
      const { failed, sent } = yield* runCalls({
        calls: 1,
        concurrency: 1,
        plan: { down: forever },
        options: { breaker: false },
        around: Layer.succeed(RetryBudget.RetryBudget, budget)
      })
      // 10 tokens pay for two retries of 5: three sends of the eight the policy allows.
      expect(sent.length).toBe(3)
      const error = failed[0]!
      expect(error._tag).toBe("Transient")
      expect(error.retryBudgetSpent).toBe(true)
      expect(error.message).toContain("not retried: the client's retry budget is spent")
      expect(GrokClient.attemptsOf(error)).toBe(3)
      expect(yield* budget.available).toBe(0)
    })
  )

  it.effect("gives tokens back on success: one for a first attempt, the retry's cost for a retried call", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 100 })
      const spend = yield* Effect.forEach(Array.from({ length: 4 }), () => budget.tryAcquire({ _tag: "Transient" }))
      expect(spend.every(Boolean)).toBe(true)
      const { ok } = yield* runCalls({
        calls: 3,
        concurrency: 1,
        plan: { down: (_, now) => now < 1 },
        options: { breaker: false },
        around: Layer.succeed(RetryBudget.RetryBudget, budget)
      })
      // The first call fails at 0 ms and succeeds on a retry (5 back after the retry's 5), the others at once (1 each).
      expect(ok.map((result) => result.attempts)).toEqual([2, 1, 1])
      expect(yield* budget.available).toBe(100 - 20 - 5 + 5 + 1 + 1)
    })
  )

  it.effect("bounds a long outage with the breaker off: the default 500 tokens pay for 100 retries, then none", () =>
    Effect.gen(function* () {
      const { failed, sent } = yield* runCalls({
        calls: 200,
        concurrency: 20,
        plan: { down: forever },
        options: { breaker: false }
      })
      expect(failed.length).toBe(200)
      // The default 500 tokens pay for 100 retries of 5, and no call succeeds to refund any.
      expect(sent.length).toBe(300)
      expect(failed.filter((error) => error.retryBudgetSpent).length).toBeGreaterThan(100)
    })
  )

  it.effect("retryBudget: false lets the policy retry every failure", () =>
    Effect.gen(function* () {
      const { sent } = yield* runCalls({
        calls: 2,
        concurrency: 2,
        plan: { down: forever },
        options: { breaker: false, retryBudget: false }
      })
      expect(sent.length).toBe(16)
    })
  )

  it.effect("fails the client's layer on invalid budget or breaker options, naming the option", () =>
    Effect.gen(function* () {
      const client = (options: Partial<GrokClient.Options>) =>
        GrokClient.layer({ apiKey: Redacted.make(API_KEY), baseUrl: BASE_URL, ...options }).pipe(
          Layer.provide(VirtualGrok.layer({}, []))
        )
      const budget = yield* Effect.flip(Effect.scoped(Layer.build(client({ retryBudget: { capacity: 0 } }))))
      const breaker = yield* Effect.flip(Effect.scoped(Layer.build(client({ breaker: { failureRatio: 2 } }))))
      expect(budget._tag).toBe("InvalidRetryBudgetOptions")
      expect(breaker._tag).toBe("InvalidCircuitBreakerOptions")
      expect(breaker.message).toContain("failureRatio")
    })
  )
})
