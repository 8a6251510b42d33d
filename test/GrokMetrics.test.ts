import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as GrokMetrics from "../src/GrokMetrics.js"

// The metric registry is global: every test uses its own model name and compares values before and after.

const count = (metric: Metric.Metric.Counter<number>, labels: Record<string, string>) =>
  Effect.map(Metric.value(GrokMetrics.withLabels(metric, labels)), (state) => state.count)

const gauge = (metric: Metric.Metric.Gauge<number>, labels: Record<string, string> = {}) =>
  Effect.map(Metric.value(GrokMetrics.withLabels(metric, labels)), (state) => state.value)

const histogram = (metric: Metric.Metric.Histogram<number>, labels: Record<string, string>) =>
  Metric.value(GrokMetrics.withLabels(metric, labels))

const bucket = (state: { readonly buckets: ReadonlyArray<readonly [number, number]> }, le: number) =>
  state.buckets.find(([boundary]) => boundary === le)?.[1]

class Boom extends Data.TaggedError("Boom")<{}> {}

describe("GrokMetrics", () => {
  it.effect("recordAttempt counts the attempt by model, outcome and status and observes its duration in seconds", () =>
    Effect.gen(function* () {
      const labels = { model: "m-attempt", outcome: "Transient" }
      const before = yield* count(GrokMetrics.attemptsTotal, { ...labels, status: "503" })
      const durationBefore = yield* histogram(GrokMetrics.attemptDuration, labels)
      yield* GrokMetrics.recordAttempt({ ...labels, status: 503, durationMillis: 1500 })
      expect((yield* count(GrokMetrics.attemptsTotal, { ...labels, status: "503" })) - before).toBe(1)
      const duration = yield* histogram(GrokMetrics.attemptDuration, labels)
      expect(duration.count - durationBefore.count).toBe(1)
      expect(duration.sum - durationBefore.sum).toBeCloseTo(1.5)
      expect((bucket(duration, 2.5) ?? 0) - (bucket(durationBefore, 2.5) ?? 0)).toBe(1)
      expect((bucket(duration, 1) ?? 0) - (bucket(durationBefore, 1) ?? 0)).toBe(0)
    })
  )

  it.effect("recordAttempt labels an attempt that got no answer with status none", () =>
    Effect.gen(function* () {
      const labels = { model: "m-no-answer", outcome: "Transient", status: "none" }
      const before = yield* count(GrokMetrics.attemptsTotal, labels)
      yield* GrokMetrics.recordAttempt({ model: "m-no-answer", outcome: "Transient", durationMillis: 10 })
      expect((yield* count(GrokMetrics.attemptsTotal, labels)) - before).toBe(1)
    })
  )

  it.effect("recordCall counts the call and observes its duration and its number of attempts", () =>
    Effect.gen(function* () {
      const labels = { model: "m-call", outcome: "success" }
      const before = yield* count(GrokMetrics.callsTotal, labels)
      const durationBefore = yield* histogram(GrokMetrics.callDuration, labels)
      const attemptsBefore = yield* histogram(GrokMetrics.callAttempts, labels)
      yield* GrokMetrics.recordCall({ ...labels, attempts: 3, durationMillis: 42_000 })
      expect((yield* count(GrokMetrics.callsTotal, labels)) - before).toBe(1)
      const duration = yield* histogram(GrokMetrics.callDuration, labels)
      expect(duration.sum - durationBefore.sum).toBeCloseTo(42)
      expect((bucket(duration, 60) ?? 0) - (bucket(durationBefore, 60) ?? 0)).toBe(1)
      expect((bucket(duration, 30) ?? 0) - (bucket(durationBefore, 30) ?? 0)).toBe(0)
      const attempts = yield* histogram(GrokMetrics.callAttempts, labels)
      expect(attempts.sum - attemptsBefore.sum).toBe(3)
    })
  )

  it.effect("recordRetry counts by the error tag and recordRejected by the reason", () =>
    Effect.gen(function* () {
      const retry = { model: "m-retry", error: "RateLimited" }
      const rejected = { model: "m-retry", reason: "QueueFull" }
      const retriesBefore = yield* count(GrokMetrics.retriesTotal, retry)
      const rejectedBefore = yield* count(GrokMetrics.rejectedTotal, rejected)
      yield* GrokMetrics.recordRetry({ model: "m-retry", errorTag: "RateLimited" })
      yield* GrokMetrics.recordRetry({ model: "m-retry", errorTag: "RateLimited" })
      yield* GrokMetrics.recordRejected({ model: "m-retry", reason: "QueueFull" })
      expect((yield* count(GrokMetrics.retriesTotal, retry)) - retriesBefore).toBe(2)
      expect((yield* count(GrokMetrics.rejectedTotal, rejected)) - rejectedBefore).toBe(1)
    })
  )

  it.effect("recordAdmissionWait puts a 3 ms wait in the 5 ms bucket", () =>
    Effect.gen(function* () {
      const labels = { model: "m-wait" }
      const before = yield* histogram(GrokMetrics.admissionWait, labels)
      yield* GrokMetrics.recordAdmissionWait({ model: "m-wait", durationMillis: 3 })
      const after = yield* histogram(GrokMetrics.admissionWait, labels)
      expect((bucket(after, 0.005) ?? 0) - (bucket(before, 0.005) ?? 0)).toBe(1)
      expect((bucket(after, 0.001) ?? 0) - (bucket(before, 0.001) ?? 0)).toBe(0)
      expect(after.sum - before.sum).toBeCloseTo(0.003)
    })
  )

  it.effect("recordUsage adds tokens by kind and converts cost ticks to US dollars", () =>
    Effect.gen(function* () {
      const model = "m-usage"
      const kinds = ["prompt", "completion", "reasoning", "cached"] as const
      const before = yield* Effect.forEach(kinds, (kind) => count(GrokMetrics.tokensTotal, { model, kind }))
      const costBefore = yield* count(GrokMetrics.costUsdTotal, { model })
      yield* GrokMetrics.recordUsage({
        model,
        usage: {
          prompt_tokens: 100,
          completion_tokens: 20,
          total_tokens: 150,
          prompt_tokens_details: { cached_tokens: 64 },
          completion_tokens_details: { reasoning_tokens: 30 },
          cost_in_usd_ticks: 25_000_000
        }
      })
      const after = yield* Effect.forEach(kinds, (kind) => count(GrokMetrics.tokensTotal, { model, kind }))
      expect(after.map((value, i) => value - (before[i] ?? 0))).toEqual([100, 20, 30, 64])
      expect((yield* count(GrokMetrics.costUsdTotal, { model })) - costBefore).toBeCloseTo(0.0025)
    })
  )

  it.effect("recordUsage leaves the cost untouched when the usage carries no cost ticks", () =>
    Effect.gen(function* () {
      const model = "m-usage-free"
      const costBefore = yield* count(GrokMetrics.costUsdTotal, { model })
      yield* GrokMetrics.recordUsage({ model, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })
      expect((yield* count(GrokMetrics.costUsdTotal, { model })) - costBefore).toBe(0)
    })
  )

  it.effect("recordRateLimitInfo sets the remaining quota of each limit the headers mention", () =>
    Effect.gen(function* () {
      const model = "m-headers"
      yield* GrokMetrics.recordRateLimitInfo({
        model,
        info: { requests: { limit: 60, remaining: 59 }, tokens: { remaining: 12_000 } }
      })
      expect(yield* gauge(GrokMetrics.rateLimitRemaining, { model, limit: "requests" })).toBe(59)
      expect(yield* gauge(GrokMetrics.rateLimitRemaining, { model, limit: "tokens" })).toBe(12_000)
      yield* GrokMetrics.recordRateLimitInfo({ model, info: { requests: { remaining: 58 } } })
      expect(yield* gauge(GrokMetrics.rateLimitRemaining, { model, limit: "requests" })).toBe(58)
      expect(yield* gauge(GrokMetrics.rateLimitRemaining, { model, limit: "tokens" })).toBe(12_000)
    })
  )

  it.effect("recordLimiterState sets queue depth, in-flight attempts, the cooldown and the adaptive rates", () =>
    Effect.gen(function* () {
      yield* GrokMetrics.recordLimiterState({
        snapshot: { queued: 7, inFlight: 3, holdUntilMillis: 12_500, rates: { "grok-4": 2.5 } },
        nowMillis: 10_000
      })
      expect(yield* gauge(GrokMetrics.limiterQueueDepth)).toBe(7)
      expect(yield* gauge(GrokMetrics.limiterInFlight)).toBe(3)
      expect(yield* gauge(GrokMetrics.limiterCooldownActive)).toBe(1)
      expect(yield* gauge(GrokMetrics.limiterCooldownRemaining)).toBe(2.5)
      expect(yield* gauge(GrokMetrics.limiterAdaptiveRate, { key: "grok-4" })).toBe(2.5)
      yield* GrokMetrics.recordLimiterState({
        snapshot: { queued: 0, inFlight: 0, holdUntilMillis: 12_500 },
        nowMillis: 13_000
      })
      expect(yield* gauge(GrokMetrics.limiterCooldownActive)).toBe(0)
      expect(yield* gauge(GrokMetrics.limiterCooldownRemaining)).toBe(0)
    })
  )

  it("outcomeOfExit names success, tagged failures, untagged failures, defects and interruptions", () => {
    expect(GrokMetrics.outcomeOfExit(Exit.succeed(1))).toBe("success")
    expect(GrokMetrics.outcomeOfExit(Exit.fail(new Boom()))).toBe("Boom")
    expect(GrokMetrics.outcomeOfExit(Exit.fail("nope"))).toBe("Failure")
    expect(GrokMetrics.outcomeOfExit(Exit.die(new Error("bug")))).toBe("Defect")
    expect(GrokMetrics.outcomeOfExit(Exit.interrupt(FiberId.none))).toBe("Interrupted")
  })

  it("latency boundaries run from 50 ms to 5 minutes and end with +Inf", () => {
    expect(GrokMetrics.latencyBoundaries.values[0]).toBe(0.05)
    expect(GrokMetrics.latencyBoundaries.values.at(-2)).toBe(300)
    expect(GrokMetrics.latencyBoundaries.values.at(-1)).toBe(Number.POSITIVE_INFINITY)
  })
})
