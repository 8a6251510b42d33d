import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as MemoryStore from "../src/MemoryStore.js"
import type * as RateLimiterStore from "../src/RateLimiterStore.js"

// The cases every RateLimiterStore must pass (the Redis store runs the same table against a real server).
const requests: RateLimiterStore.Limits = { requests: { intervalMillis: 100, burst: 2 } }
const both: RateLimiterStore.Limits = {
  requests: { intervalMillis: 100, burst: 1 },
  tokens: { intervalMillis: 1, burst: 1000 }
}

describe("MemoryStore", () => {
  it.effect("admits a burst, then one request per interval, and says how long to wait", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      const reserve = store.reserve({ key: "k", requests: 1, tokens: 0, limits: requests })
      expect(yield* reserve).toEqual({ ok: true })
      expect(yield* reserve).toEqual({ ok: true })
      expect(yield* reserve).toEqual({ ok: false, retryAfterMillis: 100 })
      yield* TestClock.adjust(60)
      expect(yield* reserve).toEqual({ ok: false, retryAfterMillis: 40 })
      yield* TestClock.adjust(40)
      expect(yield* reserve).toEqual({ ok: true })
    })
  )

  it.effect("takes requests and tokens all or nothing", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      expect(yield* store.reserve({ key: "k", requests: 1, tokens: 900, limits: both })).toEqual({ ok: true })
      yield* TestClock.adjust(100)
      // The request budget is back, the token budget is not: nothing is taken.
      expect(yield* store.reserve({ key: "k", requests: 1, tokens: 900, limits: both })).toEqual({
        ok: false,
        retryAfterMillis: 700
      })
      expect(yield* store.reserve({ key: "k", requests: 1, tokens: 100, limits: both })).toEqual({ ok: true })
    })
  )

  it.effect("keeps keys apart", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      expect(yield* store.reserve({ key: "a", requests: 1, tokens: 0, limits: both })).toEqual({ ok: true })
      expect(yield* store.reserve({ key: "b", requests: 1, tokens: 0, limits: both })).toEqual({ ok: true })
    })
  )

  it.effect("settles refunds down to a full bucket at most, and charges from now", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      expect(yield* store.reserve({ key: "k", requests: 0, tokens: 1000, limits: both })).toEqual({ ok: true })
      yield* store.settle({ key: "k", requests: 0, tokens: -5000, limits: both })
      // A full bucket, not a bucket of 5,000: 1,000 fit, 1,001 do not.
      expect(yield* store.reserve({ key: "k", requests: 0, tokens: 1000, limits: both })).toEqual({ ok: true })
      yield* store.settle({ key: "k", requests: 0, tokens: 500, limits: both })
      expect(yield* store.reserve({ key: "k", requests: 0, tokens: 1, limits: both })).toEqual({
        ok: false,
        retryAfterMillis: 501
      })
    })
  )

  it.effect("holds every reservation of a key and never shortens a hold", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      expect(yield* store.hold({ key: "k", millis: 2000 })).toBe(2000)
      expect(yield* store.hold({ key: "k", millis: 500 })).toBe(2000)
      expect(yield* store.reserve({ key: "k", requests: 1, tokens: 0, limits: {} })).toEqual({
        ok: false,
        retryAfterMillis: 2000
      })
      expect(yield* store.reserve({ key: "other", requests: 1, tokens: 0, limits: {} })).toEqual({ ok: true })
      yield* TestClock.adjust(2000)
      expect(yield* store.reserve({ key: "k", requests: 1, tokens: 0, limits: {} })).toEqual({ ok: true })
    })
  )

  it.effect("admits a cost above the burst only when the bucket is full, then runs into debt", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      const take = (tokens: number) => store.reserve({ key: "k", requests: 0, tokens, limits: both })
      expect(yield* take(10)).toEqual({ ok: true })
      expect(yield* take(5000)).toEqual({ ok: false, retryAfterMillis: 10 })
      yield* TestClock.adjust(10)
      expect(yield* take(5000)).toEqual({ ok: true })
      expect(yield* take(1)).toEqual({ ok: false, retryAfterMillis: 4001 })
    })
  )

  it.effect("treats floating-point noise in the schedule as no wait", () =>
    Effect.gen(function* () {
      const store = yield* MemoryStore.make
      const limits = { requests: { intervalMillis: 1000 / 9.5, burst: 1 } }
      const reserve = store.reserve({ key: "k", requests: 1, tokens: 0, limits })
      expect(yield* reserve).toEqual({ ok: true })
      yield* TestClock.adjust(106)
      expect(yield* reserve).toEqual({ ok: true })
    })
  )
})
