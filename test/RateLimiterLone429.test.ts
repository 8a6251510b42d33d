import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Layer, Logger, LogLevel, Random, Redacted, TestClock } from "effect"
import * as Deferred from "effect/Deferred"
import * as GrokClient from "../src/GrokClient.js"
import * as MemoryStore from "../src/MemoryStore.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type * as RateLimiterStore from "../src/RateLimiterStore.js"
import * as FakeGrok from "../src/testing/FakeGrok.js"
import { admitAndRecord, holdPermit, ticket, times } from "./RateLimiterSupport.js"

/** A memory store whose first reserve at or after `atMillis` takes `stallMillis` (a busy loop, a GC pause). */
const stallingOnce = (atMillis: number, stallMillis: number) =>
  Effect.map(MemoryStore.make, (memory): RateLimiterStore.Service => {
    let stalled = false
    return {
      ...memory,
      reserve: (request) =>
        Effect.flatMap(
          Effect.clockWith((clock) => clock.currentTimeMillis),
          (now) => {
            if (stalled || now < atMillis) return memory.reserve(request)
            stalled = true
            return Effect.zipRight(Effect.sleep(stallMillis), memory.reserve(request))
          }
        )
    }
  })

/** Reports a 429 with `info` on a fresh permit of the key, at the current time. */
const throttled = (limiter: RateLimiter.Service, info: RateLimiter.Feedback["info"] = { retryAfterMillis: 1000 }) =>
  Effect.scoped(Effect.flatMap(limiter.acquire(ticket()), (permit) => permit.report({ status: 429, info })))

describe("RateLimiter at a configured rate: the assumed burst", () => {
  it.scoped("assumes 50 ms worth of a rate given without a burst: 5 at 100/s, 1 at 20/s", () =>
    Effect.gen(function* () {
      const fast = yield* RateLimiter.make({ requestsPerSecond: 100 })
      const slow = yield* RateLimiter.make({ requestsPerMinute: 1200 })
      const given = yield* RateLimiter.make({ requestsPerSecond: 100, burst: 2 })
      const logs = { fast: [], slow: [], given: [] } as Record<string, Array<readonly [string, number]>>
      for (let i = 0; i < 8; i++) {
        yield* admitAndRecord(fast, logs.fast!, `f${i}`)
        yield* admitAndRecord(given, logs.given!, `g${i}`)
      }
      for (let i = 0; i < 3; i++) yield* admitAndRecord(slow, logs.slow!, `s${i}`)
      yield* TestClock.adjust("1 second")
      expect(times(logs.fast!)).toEqual([0, 0, 0, 0, 0, 10, 20, 30])
      expect(times(logs.given!)).toEqual([0, 0, 10, 20, 30, 40, 50, 60])
      expect(times(logs.slow!)).toEqual([0, 50, 100])
    })
  )

  it.scoped("catches up by at most the burst after the process fell behind, then paces again", () =>
    Effect.gen(function* () {
      const store = yield* stallingOnce(10, 300)
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100, store })
      const log: Array<readonly [string, number]> = []
      for (let i = 0; i < 20; i++) yield* admitAndRecord(limiter, log, `c${i}`)
      yield* TestClock.adjust("1 second")
      const at = times(log)
      expect(at.slice(0, 5)).toEqual([0, 0, 0, 0, 0])
      // 300 ms behind, 30 slots were missed: only the burst's worth goes at once, then one every 10 ms.
      expect(at.slice(5, 10)).toEqual([310, 310, 310, 310, 310])
      expect(at.slice(10, 13)).toEqual([320, 330, 340])
    })
  )
})

describe("RateLimiter at a configured rate: a lone 429", () => {
  it.scoped("holds no one: the others are admitted at the rate", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
      yield* throttled(limiter)
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(0)
      const log: Array<readonly [string, number]> = []
      for (let i = 0; i < 6; i++) yield* admitAndRecord(limiter, log, `c${i}`)
      yield* TestClock.adjust(100)
      expect(times(log)).toEqual([0, 0, 0, 0, 10, 20])
    })
  )

  it.scoped("starts the shared cooldown for the Retry-After on the third 429 within a second", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
      yield* throttled(limiter)
      yield* TestClock.adjust(400)
      yield* throttled(limiter)
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(0)
      yield* TestClock.adjust(400)
      yield* throttled(limiter, { retryAfterMillis: 2000 })
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(2800)
      const log: Array<readonly [string, number]> = []
      yield* admitAndRecord(limiter, log, "next")
      yield* TestClock.adjust(1999)
      expect(log).toEqual([])
      yield* TestClock.adjust(1)
      expect(log).toEqual([["next", 2800]])
    })
  )

  it.scoped("keeps 429s lone when they are further apart than a second", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
      for (let i = 0; i < 4; i++) {
        yield* throttled(limiter)
        yield* TestClock.adjust(600)
      }
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(0)
    })
  )

  it.scoped("counts four pacing intervals as close together when the rate is slow", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerMinute: 30, maxConcurrency: 10 })
      const callers = [yield* holdPermit(limiter), yield* holdPermit(limiter), yield* holdPermit(limiter)]
      yield* TestClock.adjust(4000)
      for (const caller of callers) {
        const permit = yield* Deferred.await(caller.admitted)
        yield* permit.report({ status: 429, info: { retryAfterMillis: 1000 } })
        yield* Deferred.succeed(caller.release, void 0)
      }
      // Admitted at 0, 2 s and 4 s, answered at 4 s: within 8 s (four intervals of 2 s), a burst.
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(5000)
    })
  )

  it.scoped("holds every caller when the answer says the quota is out for longer than an interval", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
      yield* throttled(limiter, { retryAfterMillis: 1000, requests: { remaining: 0, resetMillis: 3000 } })
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(1000)
      // The header gate keeps the key closed until that reset.
      yield* TestClock.adjust(3000)
      yield* Effect.scoped(
        Effect.flatMap(limiter.acquire(ticket()), (permit) =>
          permit.report({
            status: 429,
            info: {},
            hint: { kind: "tokens", per: "minute", actual: 20_000, limit: 16_000 }
          })
        )
      )
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(3000 + 60_000 * 0.25)
    })
  )

  it.scoped("stays lone when the body names the configured rate, or headers the gate already paces", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
      yield* Effect.scoped(
        Effect.flatMap(limiter.acquire(ticket()), (permit) =>
          permit.report({
            status: 429,
            info: { retryAfterMillis: 1000 },
            hint: { kind: "requests", per: "second", actual: 101, limit: 100 }
          })
        )
      )
      yield* throttled(limiter, {
        retryAfterMillis: 1000,
        requests: { limit: 6000, remaining: 0, resetMillis: 90, periodMillis: 60_000 }
      })
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(0)
    })
  )

  it.scoped("still holds for every 429 when no request rate is configured", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ tokensPerMinute: 60_000 })
      yield* throttled(limiter)
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(1000)
    })
  )
})

/**
 * End to end on TestClock: the GrokClient with its default retry policy and `{ requestsPerSecond: 100 }`, over
 * the in-process fake at 100/s with a burst of 10, 5 ms latency, whose first answers are scripted 429s with a
 * whole-second `Retry-After`.
 */
const run = (scripted429s: number) =>
  Effect.gen(function* () {
    const grok = yield* GrokClient.GrokClient
    const fake = yield* FakeGrok.FakeGrok
    const fiber = yield* Effect.fork(
      Effect.forEach(
        Array.from({ length: 30 }, (_, i) => i),
        (i) => Effect.either(grok.chat({ model: "grok-4", messages: [{ role: "user", content: `call ${i}` }] })),
        { concurrency: 30 }
      )
    )
    for (let step = 0; step < 100 && fiber.unsafePoll() === null; step++) yield* TestClock.adjust("100 millis")
    const results = yield* Fiber.join(fiber)
    const arrivals = (yield* fake.arrivals).filter((a) => a.path === "/v1/chat/completions")
    return { ok: results.filter(Either.isRight).length, arrivals }
  }).pipe(
    Effect.provide(
      GrokClient.layer({ apiKey: Redacted.make("test-key") }).pipe(
        Layer.provideMerge(
          FakeGrok.layerClient({
            requestsPerSecond: 100,
            burst: 10,
            latencyMillis: 5,
            retryAfter: "seconds",
            script: Array.from({ length: scripted429s }, () => 429 as const)
          })
        ),
        Layer.provideMerge(RateLimiter.layer({ requestsPerSecond: 100 }))
      )
    ),
    Logger.withMinimumLogLevel(LogLevel.None),
    Effect.withRandom(Random.make(7))
  )

describe("RateLimiter at a configured rate through the client", () => {
  it.effect("a lone 429 costs its call the Retry-After and the other calls nothing", () =>
    Effect.gen(function* () {
      const { ok, arrivals } = yield* run(1)
      expect(ok).toBe(30)
      const refused = arrivals.filter((a) => a.status === 429)
      expect(refused).toHaveLength(1)
      const accepted = arrivals.filter((a) => a.status === 200).map((a) => a.atMillis)
      // 29 calls paced at 100/s from a burst of 5: done in about a quarter of a second, not after the second.
      expect(accepted.filter((at) => at < 400)).toHaveLength(29)
      expect(accepted.filter((at) => at >= refused[0]!.atMillis + 1000)).toHaveLength(1)
    })
  )

  it.effect("a burst of 429s still holds every call for the Retry-After", () =>
    Effect.gen(function* () {
      const { ok, arrivals } = yield* run(3)
      expect(ok).toBe(30)
      const refused = arrivals.filter((a) => a.status === 429)
      expect(refused).toHaveLength(3)
      const third = refused[2]!.atMillis
      const accepted = arrivals.filter((a) => a.status === 200).map((a) => a.atMillis)
      // Only calls already on their way when the third 429 came back arrive before its Retry-After ends.
      expect(accepted.filter((at) => at > third + 10 && at < third + 1000)).toEqual([])
    })
  )
})
