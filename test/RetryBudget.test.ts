import { describe, expect, it } from "@effect/vitest"
import { Effect, Logger, Metric } from "effect"
import * as GrokError from "../src/GrokError.js"
import * as BreakerMetrics from "../src/internal/breaker/metrics.js"
import * as RetryBudget from "../src/RetryBudget.js"

const transient = new GrokError.Transient({ reason: "ServerError", status: 503 })
const timeout = new GrokError.Transient({ reason: "Timeout" })
const rateLimited = new GrokError.RateLimited({ status: 429, limit: "requests" })

describe("RetryBudget", () => {
  it.effect("starts full at 500 and spends 5 per retry, 10 after a timeout and nothing after a 429", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make()
      expect(yield* budget.available).toBe(500)
      expect(yield* budget.tryAcquire(transient)).toBe(true)
      expect(yield* budget.available).toBe(495)
      expect(yield* budget.tryAcquire(timeout)).toBe(true)
      expect(yield* budget.available).toBe(485)
      expect(yield* budget.tryAcquire(rateLimited)).toBe(true)
      expect(yield* budget.available).toBe(485)
      expect(yield* budget.tryAcquire({ _tag: "Transient", reason: "ConnectionFailed" })).toBe(true)
      expect(yield* budget.available).toBe(480)
    })
  )

  it.effect("refunds 1 for a first-attempt success and the retry cost for a success on a retry, up to capacity", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 20 })
      yield* budget.tryAcquire(timeout)
      yield* budget.tryAcquire(transient)
      expect(yield* budget.available).toBe(5)
      yield* budget.onSuccess(true)
      expect(yield* budget.available).toBe(6)
      yield* budget.onSuccess(false)
      expect(yield* budget.available).toBe(11)
      yield* Effect.repeatN(budget.onSuccess(false), 4)
      expect(yield* budget.available).toBe(20)
      yield* budget.onSuccess(true)
      expect(yield* budget.available).toBe(20)
    })
  )

  it.effect("refuses a retry it cannot pay for and spends nothing then", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 12 })
      expect(yield* budget.tryAcquire(transient)).toBe(true)
      expect(yield* budget.tryAcquire(transient)).toBe(true)
      expect(yield* budget.available).toBe(2)
      expect(yield* budget.tryAcquire(transient)).toBe(false)
      expect(yield* budget.tryAcquire(timeout)).toBe(false)
      expect(yield* budget.available).toBe(2)
      // A 429 costs nothing, so it is still retried: the limiter paces those.
      expect(yield* budget.tryAcquire(rateLimited)).toBe(true)
    })
  )

  it.effect("retries again after enough first-attempt successes", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 10 })
      yield* Effect.repeatN(budget.tryAcquire(transient), 1)
      expect(yield* budget.tryAcquire(transient)).toBe(false)
      yield* Effect.repeatN(budget.onSuccess(true), 3)
      expect(yield* budget.tryAcquire(transient)).toBe(false)
      yield* budget.onSuccess(true)
      expect(yield* budget.tryAcquire(transient)).toBe(true)
      expect(yield* budget.available).toBe(0)
    })
  )

  it.effect("bounds a long outage: 100 failing retries back to back, then one per five first-attempt successes", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make()
      let granted = 0
      for (let i = 0; i < 1_000; i++) if (yield* budget.tryAcquire(transient)) granted++
      expect(granted).toBe(100)
      // 1,000 calls succeed at once while 1,000 failures ask for a retry, interleaved.
      granted = 0
      for (let i = 0; i < 1_000; i++) {
        yield* budget.onSuccess(true)
        if (yield* budget.tryAcquire(transient)) granted++
      }
      expect(granted).toBe(200)
    })
  )

  it.effect("grants exactly what the tokens pay for when 100 fibers ask at once", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 50 })
      const answers = yield* Effect.forEach(Array.from({ length: 100 }), () => budget.tryAcquire(transient), {
        concurrency: "unbounded"
      })
      expect(answers.filter(Boolean).length).toBe(10)
      expect(yield* budget.available).toBe(0)
    })
  )

  it.effect("keeps grok_retry_budget_tokens at the tokens left", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 30 })
      expect((yield* Metric.value(BreakerMetrics.retryBudgetTokens)).value).toBe(30)
      yield* budget.tryAcquire(timeout)
      expect((yield* Metric.value(BreakerMetrics.retryBudgetTokens)).value).toBe(20)
      yield* budget.onSuccess(true)
      expect((yield* Metric.value(BreakerMetrics.retryBudgetTokens)).value).toBe(21)
    })
  )

  it.effect("logs one warning when it starts refusing and one line when it grants again", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const logger = Logger.make((options) => {
        lines.push(`${options.logLevel.label} ${Logger.logfmtLogger.log(options)}`)
      })
      yield* Effect.gen(function* () {
        const budget = yield* RetryBudget.make({ capacity: 5 })
        yield* budget.tryAcquire(transient)
        yield* Effect.repeatN(budget.tryAcquire(transient), 4)
        yield* Effect.repeatN(budget.onSuccess(true), 4)
        yield* budget.tryAcquire(transient)
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      const mine = lines.filter((line) => line.includes("RetryBudget"))
      expect(mine.length).toBe(2)
      expect(mine[0]).toMatch(/^WARN .*exhausted/)
      expect(mine[0]).toContain("error=Transient")
      expect(mine[1]).toMatch(/^INFO .*retrying again/)
    })
  )

  it.effect("refuses invalid options with an error that names the option", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [RetryBudget.Options, string]> = [
        [{ capacity: 0 }, "capacity"],
        [{ capacity: 2.5 }, "capacity"],
        [{ retryCost: -1 }, "retryCost"],
        [{ timeoutCost: Number.NaN }, "timeoutCost"],
        [{ rateLimitedCost: Number.POSITIVE_INFINITY }, "rateLimitedCost"],
        [{ successRefund: "1" as never }, "successRefund"]
      ]
      for (const [options, field] of cases) {
        const error = yield* Effect.flip(RetryBudget.make(options))
        expect(error._tag).toBe("InvalidRetryBudgetOptions")
        expect(error.field).toBe(field)
        expect(error.message).toContain(field)
      }
      const failed = yield* Effect.flip(Effect.provide(RetryBudget.RetryBudget, RetryBudget.layer({ capacity: -3 })))
      expect(failed.field).toBe("capacity")
    })
  )

  it.effect("provides the budget through its layer, and unlimited never refuses", () =>
    Effect.gen(function* () {
      const tokens = yield* Effect.flatMap(RetryBudget.RetryBudget, (budget) =>
        Effect.zipRight(budget.tryAcquire(transient), budget.available)
      ).pipe(Effect.provide(RetryBudget.layer({ capacity: 7 })))
      expect(tokens).toBe(2)
      const unlimited = yield* Effect.provide(RetryBudget.RetryBudget, RetryBudget.layerUnlimited)
      for (let i = 0; i < 1_000; i++) expect(yield* unlimited.tryAcquire(timeout)).toBe(true)
      expect(yield* unlimited.available).toBe(Number.POSITIVE_INFINITY)
    })
  )
})
