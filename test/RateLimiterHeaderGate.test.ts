import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as HeaderGate from "../src/internal/admission/headerGate.js"
import * as RateLimiter from "../src/RateLimiter.js"
import { admitAndRecord, ticket } from "./RateLimiterSupport.js"

/** OpenAI's meaning: 1200 a minute (one unit back every 50 ms), `remaining` left now, full again in `reset`. */
const window = (remaining: number, resetMillis: number, periodMillis?: number) => ({
  limit: 1200,
  remaining,
  resetMillis,
  ...(periodMillis !== undefined ? { periodMillis } : {})
})

describe("HeaderGate", () => {
  it("allows as many sends after the answered call as remaining says, then one per refilled unit", () => {
    const gate = HeaderGate.fromWindow(window(2, 250, 60_000), 10, 1000, 60_000)!
    expect(HeaderGate.openAt(gate, 10, 1000)).toBe(1000)
    expect(HeaderGate.openAt(gate, 11, 1000)).toBe(1000)
    expect(HeaderGate.openAt(gate, 12, 1000)).toBe(1050)
    expect(HeaderGate.openAt(gate, 13, 1000)).toBe(1100)
    expect(HeaderGate.openAt(gate, 30, 1000)).toBe(1250)
    expect(HeaderGate.openAt(gate, 30, 1250)).toBe(1250)
  })

  it("waits for the reset when the headers name no period, and sets no gate for a reset past the longest hold", () => {
    const gate = HeaderGate.fromWindow(window(0, 400), 1, 0, 60_000)!
    expect(HeaderGate.openAt(gate, 1, 0)).toBe(400)
    // One absurd answer (a reset years away) must not freeze every call of the key, as a hold past it is not applied.
    expect(HeaderGate.fromWindow(window(0, 1e12), 1, 0, 60_000)).toBeUndefined()
  })

  it("keeps the gate of a newer answer over an older one, and ignores answers without remaining", () => {
    const newer = HeaderGate.fromWindow(window(0, 500), 8, 100, 60_000)
    expect(HeaderGate.update(newer, window(5, 500), 6, 120, 60_000)).toBe(newer)
    expect(HeaderGate.update(newer, { limit: 1200 }, 9, 120, 60_000)).toBe(newer)
    expect(HeaderGate.update(newer, window(5, 500), 9, 120, 60_000)).toMatchObject({ seq: 9, remaining: 5 })
    expect(HeaderGate.update(newer, window(5, 0), 9, 120, 60_000)).toBeUndefined()
  })
})

describe("RateLimiter header gate", () => {
  it.scoped("never sends more than remaining before the next answer says otherwise", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 1000, burst: 100 })
      yield* Effect.scoped(
        Effect.flatMap(limiter.acquire(ticket()), (permit) =>
          permit.report({ status: 200, info: { requests: window(2, 400) } })
        )
      )
      const log: Array<readonly [string, number]> = []
      for (let i = 0; i < 4; i++) yield* admitAndRecord(limiter, log, `call${i}`)
      yield* TestClock.adjust(399)
      expect(log).toEqual([
        ["call0", 0],
        ["call1", 0]
      ])
      yield* TestClock.adjust(1)
      expect(log.map(([label]) => label)).toEqual(["call0", "call1", "call2", "call3"])
    })
  )

  it.scoped("lets one more call go per unit the quota's rate refills when the headers name the period", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 1000, burst: 100 })
      yield* Effect.scoped(
        Effect.flatMap(limiter.acquire(ticket()), (permit) =>
          permit.report({ status: 200, info: { requests: window(0, 250, 60_000) } })
        )
      )
      const log: Array<readonly [string, number]> = []
      for (let i = 0; i < 3; i++) yield* admitAndRecord(limiter, log, `call${i}`)
      yield* TestClock.adjust(300)
      expect(log).toEqual([
        ["call0", 50],
        ["call1", 100],
        ["call2", 150]
      ])
    })
  )
})

describe("RateLimiter adaptive 429s", () => {
  const throttled = (limiter: RateLimiter.Service) =>
    Effect.scoped(
      Effect.flatMap(limiter.acquire(ticket()), (permit) =>
        permit.report({ status: 429, info: { retryAfterMillis: 1000 } })
      )
    )

  it.scoped("answers a lone 429 with a rate cut and a pause of one interval, not the whole Retry-After", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ adaptive: { initialRate: 20 } })
      yield* throttled(limiter)
      const snapshot = yield* limiter.snapshot
      const rate = snapshot.rates!["grok:grok-4"]!
      expect(rate).toBeCloseTo(20 * 0.85)
      expect(snapshot.holdUntilMillis).toBeCloseTo(1000 / rate)
    })
  )

  it.scoped("holds every caller for the whole Retry-After when a call admitted after the cut is refused again", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ adaptive: { initialRate: 20 } })
      yield* throttled(limiter)
      yield* TestClock.adjust(200)
      yield* throttled(limiter)
      expect((yield* limiter.snapshot).holdUntilMillis).toBe(1200)
    })
  )
})
