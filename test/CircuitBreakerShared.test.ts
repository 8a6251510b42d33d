/**
 * The shared breaker's own logic on TestClock, over an in-memory fleet (test/support/memoryFleet.ts) that follows
 * the rules of the Redis scripts; test/redis/SharedBreaker.test.ts runs the same ideas against a real Redis.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Exit, Fiber, Logger, Metric, Option, Schedule, TestClock } from "effect"
import type * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as BreakerMetrics from "../src/internal/breaker/metrics.js"
import * as BreakerOptions from "../src/internal/breaker/options.js"
import * as Shared from "../src/internal/breaker/shared.js"
import * as MemoryFleet from "./support/memoryFleet.js"

const KEY = "https://api.x.ai/v1|grok-4"

const options: BreakerOptions.Options = {
  consecutiveFailures: 2,
  breakSchedule: Schedule.exponential("1 second"),
  probeTimeout: "10 seconds"
}

/** Lets the forked fibers (announcement readers, parked probe slots) run. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

/** Two processes' breakers over one store whose clock is `skewMillis` ahead of theirs. */
const fleet = (skewMillis = 0) =>
  Effect.gen(function* () {
    const store = yield* MemoryFleet.make(skewMillis)
    const breaker = Either.getOrThrow(BreakerOptions.validate(options))
    const settings = { breaker, pollMillis: 1_000, retryMillis: 5_000 }
    const a = yield* Shared.make(store.fleetFor("a"), settings)
    const b = yield* Shared.make(store.fleetFor("b"), settings)
    yield* settle
    return { store, a, b }
  })

const call = (breaker: CircuitBreaker.Service, outcome: CircuitBreaker.Outcome, maxWaitMillis = 0) =>
  Effect.scoped(Effect.flatMap(breaker.admit(KEY, { maxWaitMillis }), (pass) => pass.report(outcome)))

const trip = (breaker: CircuitBreaker.Service) => Effect.zipRight(Effect.repeatN(call(breaker, "failure"), 1), settle)

/** The `retryAfterMillis` of a caller refused at once. */
const refusedFor = (breaker: CircuitBreaker.Service) =>
  Effect.map(Effect.exit(call(breaker, "ignored")), (exit) =>
    Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.retryAfterMillis : undefined
  )

/** A caller that waits up to 20 s and reports `outcome` at once, or after `holdMillis` when it is the probe. */
const waiter = (breaker: CircuitBreaker.Service, outcome: CircuitBreaker.Outcome, holdMillis: number) =>
  Effect.fork(
    Effect.scoped(
      Effect.gen(function* () {
        const pass = yield* breaker.admit(KEY, { maxWaitMillis: 20_000 })
        const at = yield* Clock.currentTimeMillis
        if (pass.probe) yield* Effect.sleep(holdMillis)
        yield* pass.report(outcome)
        return { probe: pass.probe, at }
      })
    )
  )

describe("CircuitBreaker shared by a fleet", () => {
  it.scoped("counts calls locally: no fleet call while a key is closed, one when it opens", () =>
    Effect.gen(function* () {
      const { store, a } = yield* fleet()
      for (let i = 0; i < 50; i++) {
        yield* call(a, "success")
        yield* call(a, i % 2 === 0 ? "failure" : "ignored")
      }
      expect(store.calls).toEqual([])
      yield* trip(a)
      expect(store.calls).toEqual(["a:open"])
    })
  )

  it.scoped("one process opens a key: the other sees it open, with the same break end, on a skewed store clock", () =>
    Effect.gen(function* () {
      const { a, b } = yield* fleet(3_600_000)
      yield* trip(a)
      expect(yield* b.state(KEY)).toBe("Open")
      expect(yield* refusedFor(a)).toBe(1_000)
      expect(yield* refusedFor(b)).toBe(1_000)
      yield* TestClock.adjust("300 millis")
      expect(yield* refusedFor(b)).toBe(700)
    })
  )

  it.scoped("one probe for the fleet; its success releases the waiters of both processes at the same instant", () =>
    Effect.gen(function* () {
      const { store, a, b } = yield* fleet()
      const start = yield* Clock.currentTimeMillis
      yield* trip(a)
      const fibers = yield* Effect.all([a, a, a, b, b, b].map((breaker) => waiter(breaker, "success", 500)))
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      yield* TestClock.adjust("500 millis")
      yield* settle
      const passes = yield* Effect.all(fibers.map(Fiber.join))
      expect(passes.filter((pass) => pass.probe)).toEqual([{ probe: true, at: start + 1_000 }])
      expect(passes.filter((pass) => !pass.probe).map((pass) => pass.at)).toEqual(Array(5).fill(start + 1_500))
      expect(store.calls.filter((op) => op.endsWith(":claim")).length).toBe(2)
      expect([yield* a.state(KEY), yield* b.state(KEY)]).toEqual(["Closed", "Closed"])
    })
  )

  it.scoped("a key the fleet closed is proven everywhere: no cold-start hold in the other process", () =>
    Effect.gen(function* () {
      const { a, b } = yield* fleet()
      yield* trip(a)
      yield* TestClock.adjust("1 second")
      yield* call(a, "success")
      yield* settle
      expect(yield* b.state(KEY)).toBe("Closed")
      // A cold key lets 2 calls (consecutiveFailures) out at once and holds the rest; a proven one lets all out.
      let admitted = 0
      const held = Effect.scoped(
        Effect.flatMap(b.admit(KEY, { maxWaitMillis: 0 }), () =>
          Effect.zipRight(
            Effect.sync(() => admitted++),
            Effect.never
          )
        )
      )
      const fibers = yield* Effect.all(Array.from({ length: 6 }, () => Effect.fork(held)))
      yield* settle
      expect(admitted).toBe(6)
      yield* Effect.all(fibers.map(Fiber.interrupt))
    })
  )

  it.scoped("a failed probe reopens the key for the fleet with the schedule's next break", () =>
    Effect.gen(function* () {
      const { store, a, b } = yield* fleet()
      yield* trip(a)
      yield* TestClock.adjust("1 second")
      yield* call(b, "failure")
      yield* settle
      expect(store.records.get(KEY)).toMatchObject({ status: "Open", step: 1, breakMillis: 2_000 })
      expect(yield* refusedFor(a)).toBe(2_000)
      expect(yield* refusedFor(b)).toBe(2_000)
    })
  )

  it.scoped(
    "a probe silent for probeTimeout counts as failed for the fleet: the key reopens, and another process probes",
    () =>
      Effect.gen(function* () {
        const { store, a, b } = yield* fleet()
        const start = yield* Clock.currentTimeMillis
        yield* trip(a)
        yield* TestClock.adjust("1 second")
        const silent = yield* Effect.fork(Effect.scoped(Effect.zipRight(a.admit(KEY), Effect.never)))
        const waiting = yield* waiter(b, "success", 0)
        yield* settle
        yield* TestClock.adjust("9999 millis")
        yield* settle
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        yield* TestClock.adjust("1 millis")
        yield* settle
        // The silent probe counts as failed, as a local one would: the key reopens for the fleet, for the next break.
        expect(store.records.get(KEY)).toMatchObject({ status: "Open", step: 1, breakMillis: 2_000 })
        expect([yield* refusedFor(a), yield* refusedFor(b)]).toEqual([2_000, 2_000])
        yield* TestClock.adjust("2 seconds")
        yield* settle
        expect(yield* Fiber.join(waiting)).toEqual({ probe: true, at: start + 13_000 })
        expect([yield* a.state(KEY), yield* b.state(KEY)]).toEqual(["Closed", "Closed"])
        yield* Fiber.interrupt(silent)
      })
  )

  it.scoped("a lost announcement: a process waiting on another's probe learns the verdict within pollMillis", () =>
    Effect.gen(function* () {
      const { store, a, b } = yield* fleet()
      yield* trip(a)
      yield* TestClock.adjust("1 second")
      const probe = yield* waiter(a, "success", 300)
      yield* settle
      const waiting = yield* waiter(b, "success", 0)
      yield* settle
      store.mute = true
      yield* TestClock.adjust("300 millis")
      yield* settle
      expect(yield* a.state(KEY)).toBe("Closed")
      expect(yield* b.state(KEY)).toBe("HalfOpen")
      yield* TestClock.adjust("700 millis")
      yield* settle
      expect(yield* Fiber.join(probe)).toMatchObject({ probe: true })
      expect(yield* Fiber.join(waiting)).toMatchObject({ probe: false })
      expect(yield* b.state(KEY)).toBe("Closed")
    })
  )

  it.scoped(
    "store down: calls never fail, one warning, a metric, no fleet call for retryMillis, then shared again",
    () => {
      const lines: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        lines.push(`${logLevel.label} ${Array.isArray(message) ? message.join(" ") : String(message)}`)
      })
      return Effect.gen(function* () {
        const { store, a, b } = yield* fleet()
        const before = (yield* Metric.value(BreakerMetrics.sharedUnavailable)).count
        store.down = true
        yield* trip(a)
        expect(yield* a.state(KEY)).toBe("Open")
        expect(yield* b.state(KEY)).toBe("Closed")
        yield* TestClock.adjust("1 second")
        yield* call(a, "success")
        expect(yield* a.state(KEY)).toBe("Closed")
        expect(store.calls).toEqual(["a:open"])
        expect((yield* Metric.value(BreakerMetrics.sharedUnavailable)).count).toBe(before + 1)
        store.down = false
        yield* TestClock.adjust("5 seconds")
        yield* trip(a)
        expect(yield* b.state(KEY)).toBe("Open")
        expect(lines.filter((line) => line.includes("shared state"))).toEqual([
          "WARN CircuitBreaker: shared state unavailable (connection refused): each process keeps its own breaker state until it answers again",
          "INFO CircuitBreaker: shared state answers again: breaks and probes are shared again"
        ])
      }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
    }
  )
})
