import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/TestClock"
import * as MemoryStore from "../src/MemoryStore.js"
import * as RateLimiterStore from "../src/RateLimiterStore.js"
import * as FailoverStore from "../src/internal/admission/failover.js"

/** A shared store that can be switched off, counting the calls that reach it, and a log capture. */
const harness = (options: { readonly share?: number | Effect.Effect<number> } = {}) =>
  Effect.gen(function* () {
    const state = { up: true, calls: 0, probes: 0 }
    const memory = yield* MemoryStore.make
    const guard = <A>(
      operation: "reserve" | "settle" | "hold",
      run: Effect.Effect<A, RateLimiterStore.RateLimiterStoreError>
    ) =>
      Effect.suspend(() => {
        state.calls++
        return state.up
          ? run
          : Effect.fail(new RateLimiterStore.RateLimiterStoreError({ operation, detail: "connection refused" }))
      })
    const primary: RateLimiterStore.Service = {
      reserve: (request) => guard("reserve", memory.reserve(request)),
      settle: (request) => guard("settle", memory.settle(request)),
      hold: (request) => guard("hold", memory.hold(request))
    }
    const store = yield* FailoverStore.make({
      primary,
      localShare: options.share ?? 0.25,
      probe: Effect.suspend(() => {
        state.probes++
        return state.up ? Effect.void : Effect.fail("down")
      }),
      probeInterval: "1 second"
    })
    return { state, store }
  })

const captureLogs = () => {
  const lines: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

const limits: RateLimiterStore.Limits = { requests: { intervalMillis: 100, burst: 4 } }
const one = { key: "k", requests: 1, tokens: 0, limits }

describe("the limiter's store failover", () => {
  it("scales every limit to the share: longer intervals, smaller bursts (at least 1)", () => {
    expect(
      FailoverStore.scaleLimits(
        { requests: { intervalMillis: 50, burst: 5 }, tokens: { intervalMillis: 0.6, burst: 1_000 } },
        0.25
      )
    ).toEqual({ requests: { intervalMillis: 200, burst: 1.25 }, tokens: { intervalMillis: 2.4, burst: 250 } })
    expect(FailoverStore.scaleLimits({ requests: { intervalMillis: 50, burst: 1 } }, 0.1)).toEqual({
      requests: { intervalMillis: 500, burst: 1 }
    })
    expect(FailoverStore.scaleLimits({}, 0.5)).toEqual({})
  })

  it.scoped("answers from the shared store while it works", () =>
    Effect.gen(function* () {
      const { state, store } = yield* harness()
      for (let i = 0; i < 4; i++) expect(yield* store.reserve(one)).toEqual({ ok: true })
      expect(yield* store.reserve(one)).toEqual({ ok: false, retryAfterMillis: 100 })
      expect(state.calls).toBe(5)
      expect(yield* store.local).toBe(false)
    })
  )

  it.scoped("after the first failure paces locally at its share, logs one warning, and stops asking", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { state, store } = yield* harness()
      state.up = false
      // A quarter of 10 per second with burst 4: one request, then one every 400 ms.
      expect(yield* store.reserve(one)).toEqual({ ok: true })
      expect(yield* store.reserve(one)).toEqual({ ok: false, retryAfterMillis: 400 })
      expect(yield* store.reserve(one)).toEqual({ ok: false, retryAfterMillis: 400 })
      expect(state.calls).toBe(1)
      expect(yield* store.local).toBe(true)
      expect(logs.lines).toEqual(["WARN Redis unavailable (connection refused): limiting locally at 25% of the quota"])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("probes once per probeInterval, goes back to the shared store when it answers, and says so once", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      const { state, store } = yield* harness()
      state.up = false
      yield* store.reserve(one)
      yield* TestClock.adjust("999 millis")
      expect(state.probes).toBe(0)
      yield* TestClock.adjust("1 milli")
      expect(state.probes).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect(state.probes).toBe(3)
      expect(yield* store.local).toBe(true)
      state.up = true
      yield* TestClock.adjust("999 millis")
      expect(yield* store.local).toBe(true)
      yield* TestClock.adjust("1 milli")
      expect(state.probes).toBe(4)
      expect(yield* store.local).toBe(false)
      const before = state.calls
      expect(yield* store.reserve(one)).toEqual({ ok: true })
      expect(state.calls).toBe(before + 1)
      // No more probes once back.
      yield* TestClock.adjust("10 seconds")
      expect(state.probes).toBe(4)
      expect(logs.lines).toEqual([
        "WARN Redis unavailable (connection refused): limiting locally at 25% of the quota",
        "INFO Redis answers again: back to the shared quota"
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("logs once per outage, and reads the share when the outage starts", () => {
    const logs = captureLogs()
    return Effect.gen(function* () {
      let share = 0.5
      const { state, store } = yield* harness({ share: Effect.sync(() => share) })
      state.up = false
      yield* store.reserve(one)
      state.up = true
      yield* TestClock.adjust("1 second")
      share = 1 / 3
      state.up = false
      yield* store.hold({ key: "k", millis: 10 })
      yield* store.settle({ ...one, requests: -1 })
      expect(logs.lines).toEqual([
        "WARN Redis unavailable (connection refused): limiting locally at 50% of the quota",
        "INFO Redis answers again: back to the shared quota",
        "WARN Redis unavailable (connection refused): limiting locally at 33.3% of the quota"
      ])
    }).pipe(Effect.provide(logs.layer))
  })

  it.scoped("holds and settles on the local store during an outage", () =>
    Effect.gen(function* () {
      const { state, store } = yield* harness()
      state.up = false
      expect(yield* store.reserve(one)).toEqual({ ok: true })
      // The estimate is given back: the local bucket is full again.
      yield* store.settle({ ...one, requests: -1 })
      expect(yield* store.reserve(one)).toEqual({ ok: true })
      yield* store.settle({ ...one, requests: -1 })
      yield* store.hold({ key: "k", millis: 700 })
      expect(yield* store.reserve(one)).toEqual({ ok: false, retryAfterMillis: 700 })
      expect(state.calls).toBe(1)
    })
  )
})
