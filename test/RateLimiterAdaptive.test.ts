import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"
import * as AdaptiveRate from "../src/AdaptiveRate.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type { RateLimitInfo } from "../src/RateLimitHeaders.js"

/**
 * A simulated server: a token bucket of `limit` requests per second and capacity `burst`, kept as a theoretical
 * arrival time, so every answer is a pure function of the TestClock time of the request and the ones before it.
 */
const makeServer = (limit: number, burst: number) => {
  const interval = 1000 / limit
  let tat = Number.NEGATIVE_INFINITY
  return (now: number) => {
    const base = Math.max(tat, now)
    const wait = base + interval - burst * interval - now
    const accepted = wait <= 0
    if (accepted) tat = base + interval
    const next = Math.max(tat, now)
    const remaining = Math.min(burst, Math.max(0, Math.floor((now + burst * interval - next) / interval)))
    return { accepted, waitMillis: Math.max(0, wait), remaining, resetMillis: next - now }
  }
}

type Style = "retry-after-ms" | "body-hint" | "headers"

interface Run {
  readonly ok: number
  readonly throttled: number
  /** The learned rate sampled once per second. */
  readonly rates: ReadonlyArray<number>
}

/**
 * `workers` callers loop for `seconds`: admission, the server's verdict at that instant, `latencyMillis` on the
 * wire, then the report the GrokClient would make for the server's answer in the given style.
 */
const simulate = (options: {
  readonly limit: number
  readonly burst: number
  readonly style: Style
  readonly workers?: number
  readonly seconds?: number
  readonly latencyMillis?: number
}) =>
  Effect.gen(function* () {
    const limiter = yield* RateLimiter.make()
    const server = makeServer(options.limit, options.burst)
    let ok = 0
    let throttled = 0
    const rates: Array<number> = []
    const call = Effect.scoped(
      Effect.gen(function* () {
        const permit = yield* limiter.acquire({ priority: "normal", estimatedTokens: 0, model: "grok-4" })
        const verdict = server(yield* Clock.currentTimeMillis)
        yield* Effect.sleep(options.latencyMillis ?? 50)
        const headers: RateLimitInfo =
          options.style === "headers"
            ? {
                requests: {
                  limit: options.limit * 60,
                  remaining: verdict.remaining,
                  resetMillis: verdict.resetMillis,
                  periodMillis: 60_000
                }
              }
            : {}
        if (verdict.accepted) {
          ok++
          return yield* permit.report({ status: 200, info: headers, usedTokens: 0 })
        }
        throttled++
        yield* permit.report({
          status: 429,
          info: { ...headers, retryAfterMillis: Math.ceil(verdict.waitMillis) },
          ...(options.style === "body-hint"
            ? {
                hint: {
                  kind: "requests" as const,
                  per: "second" as const,
                  actual: options.limit + 1,
                  limit: options.limit
                }
              }
            : {})
        })
      })
    )
    const workers = yield* Effect.forEach(Array.from({ length: options.workers ?? 20 }), () =>
      Effect.fork(Effect.forever(call))
    )
    const sampler = yield* Effect.fork(
      Effect.forever(
        Effect.zipRight(
          Effect.sleep("1 second"),
          Effect.flatMap(limiter.snapshot, (snapshot) =>
            Effect.sync(() => rates.push(snapshot.rates?.["grok:grok-4"] ?? 0))
          )
        )
      )
    )
    yield* TestClock.adjust(`${options.seconds ?? 60} seconds`)
    yield* Fiber.interruptAll([...workers, sampler])
    return { ok, throttled, rates } satisfies Run
  })

/** Simulations run thousands of TestClock steps: allow for a slow CI machine. */
const SIMULATION_TIMEOUT = 120_000

const mean = (values: ReadonlyArray<number>) => values.reduce((sum, value) => sum + value, 0) / values.length

describe("RateLimiter adaptive mode", () => {
  it.scoped(
    "converges near the server's limit from 429s alone, with few 429s",
    () =>
      Effect.gen(function* () {
        const run = yield* simulate({ limit: 10, burst: 2, style: "retry-after-ms" })
        const learned = mean(run.rates.slice(-30))
        expect(learned).toBeGreaterThanOrEqual(7.5)
        expect(learned).toBeLessThanOrEqual(11)
        expect(run.throttled / (run.ok + run.throttled)).toBeLessThan(0.05)
        expect(run.ok).toBeGreaterThanOrEqual(0.85 * 10 * 60)
      }),
    SIMULATION_TIMEOUT
  )

  it.scoped(
    "starts slowly, so a crowd of first calls against an unknown strict limit meets few 429s",
    () =>
      Effect.gen(function* () {
        const run = yield* simulate({ limit: 5, burst: 1, style: "retry-after-ms", workers: 30, seconds: 10 })
        expect(run.throttled).toBeLessThanOrEqual(3)
        expect(run.ok).toBeGreaterThanOrEqual(0.6 * 5 * 10)
      }),
    SIMULATION_TIMEOUT
  )

  it.scoped(
    "jumps to the limit a 429 body names and stays there",
    () =>
      Effect.gen(function* () {
        const run = yield* simulate({ limit: 20, burst: 5, style: "body-hint", seconds: 30 })
        expect(run.rates.slice(-25)).toEqual(Array.from({ length: 25 }, () => 20))
        expect(run.throttled).toBeLessThanOrEqual(2)
        expect(run.ok).toBeGreaterThanOrEqual(0.9 * 20 * 30)
      }),
    SIMULATION_TIMEOUT
  )

  it.scoped(
    "paces from x-ratelimit headers without a single 429",
    () =>
      Effect.gen(function* () {
        const run = yield* simulate({ limit: 20, burst: 5, style: "headers", seconds: 30 })
        expect(run.rates.every((rate) => rate === 20)).toBe(true)
        expect(run.throttled).toBe(0)
        expect(run.ok).toBeGreaterThanOrEqual(0.9 * 20 * 30)
      }),
    SIMULATION_TIMEOUT
  )
})

describe("AdaptiveRate", () => {
  const options = AdaptiveRate.defaults
  const start = AdaptiveRate.initial(options)
  /** A success whose call took `roundTripMillis` (one second by default: slow enough that `growth` applies). */
  const success = (state: AdaptiveRate.State, nowMillis: number, saturated = true, roundTripMillis = 1000) =>
    AdaptiveRate.onSuccess(state, { nowMillis, admittedAtMillis: nowMillis - roundTripMillis, saturated }, options)

  it("grows by `growth` per saturated success while probing, and not at all when nobody waits", () => {
    expect(start.rate).toBe(4)
    expect(success(start, 0).rate).toBe(6)
    expect(success(success(start, 0), 10).rate).toBe(8)
    expect(success(start, 0, false).rate).toBe(4)
  })

  it("grows by a tenth per round trip when round trips are short, counting any shorter than 5 ms as 5 ms", () => {
    expect(success(start, 0, true, 20).rate).toBeCloseTo(4 + 0.1 / 0.02)
    expect(success(start, 0, true, 5).rate).toBeCloseTo(4 + 20)
    expect(success(start, 0, true, 0).rate).toBeCloseTo(4 + 20)
    expect(success(start, 0, true, 100).rate).toBe(6)
  })

  it("multiplies the rate by beta on a 429, once per congestion episode, and half as deep on leaving slow start", () => {
    const fast = { ...start, rate: 40 }
    const first = AdaptiveRate.onThrottle(fast, { nowMillis: 1000, admittedAtMillis: 990, sinceMillis: 0 }, options)
    expect(first.rate).toBeCloseTo(40 * 0.85)
    expect(first).toMatchObject({ phase: "Avoidance", lastMaxRate: 40, epochMillis: 1000 })
    const again = AdaptiveRate.onThrottle(first, { nowMillis: 1005, admittedAtMillis: 995, sinceMillis: 0 }, options)
    expect(again).toBe(first)
    const later = AdaptiveRate.onThrottle(first, { nowMillis: 1500, admittedAtMillis: 1400, sinceMillis: 0 }, options)
    expect(later.rate).toBeCloseTo(40 * 0.85 * 0.7)
  })

  it("remembers the rate the server accepted, not the overshoot, as W", () => {
    let state: AdaptiveRate.State = { ...start, rate: 40 }
    // 20 successes admitted in the last second: the server accepted 20 per second.
    for (let i = 0; i < 20; i++) state = success(state, 1000 + i * 50, false, 0)
    // Measured up to the refused call's admission (1,990 ms): 20 in 990 ms.
    const after = AdaptiveRate.onThrottle(state, { nowMillis: 2000, admittedAtMillis: 1990, sinceMillis: 0 }, options)
    expect(after.lastMaxRate).toBeCloseTo(20, 0)
    expect(after.rate).toBeCloseTo(17, 0)
  })

  it("measures W over the traffic there was, not over a second that began before the first call", () => {
    let state: AdaptiveRate.State = { ...start, rate: 100 }
    // Traffic started at 10 s: 12 successes admitted in its first 600 ms, 20 per second.
    for (let i = 0; i < 12; i++) state = success(state, 10_000 + i * 50, false, 0)
    const after = AdaptiveRate.onThrottle(
      state,
      { nowMillis: 10_600, admittedAtMillis: 10_600, sinceMillis: 0 },
      options
    )
    expect(after.lastMaxRate).toBeCloseTo(20)
  })

  it("measures W up to the refused call's admission: calls admitted after it are still out", () => {
    let state: AdaptiveRate.State = { ...start, rate: 100 }
    // 20 per second from 10 s to 11 s; the refused call was admitted at 11 s and its 429 came back at 11.5 s,
    // before anything admitted after it.
    for (let i = 0; i < 20; i++) state = success(state, 10_000 + i * 50, false, 0)
    const after = AdaptiveRate.onThrottle(
      state,
      { nowMillis: 11_500, admittedAtMillis: 11_000, sinceMillis: 0 },
      options
    )
    expect(after.lastMaxRate).toBeCloseTo(20)
  })

  it("climbs back along the cubic curve, reaching W after K seconds", () => {
    const after = AdaptiveRate.onThrottle(
      { ...start, phase: "Avoidance", rate: 20 },
      { nowMillis: 0, admittedAtMillis: 1, sinceMillis: 0 },
      options
    )
    const k = Math.cbrt((20 * 0.3) / 0.1)
    expect(after.k).toBeCloseTo(k)
    let state = after
    for (let t = 100; t <= k * 1000; t += 100) state = success(state, t)
    expect(state.rate).toBeGreaterThan(19.9)
    expect(state.rate).toBeLessThanOrEqual(20)
  })

  it("jumps to a request limit named by a 429 body and caps probing there", () => {
    const hint = { kind: "requests", per: "second", actual: 21, limit: 20 } as const
    const hinted = AdaptiveRate.onHint(
      { ...start, rate: 30 },
      { nowMillis: 0, admittedAtMillis: 1, sinceMillis: 0, hint },
      options
    )
    expect(hinted).toMatchObject({ rate: 20, hintRate: 20, phase: "Avoidance" })
    expect(success(hinted, 60_000).rate).toBe(20)
    const perMinute = AdaptiveRate.onHint(
      start,
      { nowMillis: 0, admittedAtMillis: 1, sinceMillis: 0, hint: { ...hint, per: "minute", limit: 60 } },
      options
    )
    expect(perMinute.hintRate).toBe(1)
  })

  it("learns a token rate from a token limit named by a 429 body", () => {
    const hint = { kind: "tokens", per: "minute", actual: 65605, limit: 16000 } as const
    const hinted = AdaptiveRate.onHint(start, { nowMillis: 0, admittedAtMillis: 1, sinceMillis: 0, hint }, options)
    expect(hinted.tokensPerSecond).toBeCloseTo(16000 / 60)
    expect(hinted.rate).toBe(start.rate)
  })

  it("reads the rate of x-ratelimit headers as the quota over its period, not from remaining and reset", () => {
    // OpenAI's meaning: 1200 per minute, a burst of 5 of which 4 are left, full again in 50 ms.
    expect(AdaptiveRate.sample({ limit: 1200, remaining: 4, resetMillis: 50, periodMillis: 60_000 })).toBe(20)
    expect(AdaptiveRate.sample({ limit: 1200, remaining: 4, resetMillis: 50 })).toBeUndefined()
    expect(AdaptiveRate.sample({ remaining: 0, resetMillis: 50, periodMillis: 60_000 })).toBeUndefined()
    expect(AdaptiveRate.sample({ limit: 0, periodMillis: 60_000 })).toBeUndefined()
    const info = (limit: number) => ({ requests: { limit, remaining: 4, resetMillis: 50, periodMillis: 60_000 } })
    const first = AdaptiveRate.onHeaders(start, { nowMillis: 0, info: info(1500) }, options)
    expect(first.rate).toBeCloseTo(25)
    const second = AdaptiveRate.onHeaders(first, { nowMillis: 10, info: info(1200) }, options)
    expect(second.rate).toBeCloseTo(20)
    const third = AdaptiveRate.onHeaders(second, { nowMillis: 20, info: info(1500) }, options)
    expect(third.rate).toBeCloseTo(20)
  })
})
