import { describe, expect, it } from "@effect/vitest"
import { Clock, Deferred, Effect, Either, Fiber, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"

const KEY = "https://api.x.ai/v1|grok-4"

/** Lets every fiber woken by the last step run until it waits again. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

interface Caller {
  readonly fiber: Fiber.RuntimeFiber<void, CircuitBreaker.CircuitOpenError>
  /** When the caller was let through; undefined while it waits. */
  readonly admittedAt: () => number | undefined
  /** Ends the call with this verdict. */
  readonly finish: (outcome: CircuitBreaker.Outcome) => Effect.Effect<void>
}

/** A caller that is let through (or waits), then holds its pass until told how the call went. */
const caller = (breaker: CircuitBreaker.Service, maxWaitMillis?: number) =>
  Effect.gen(function* () {
    let admittedAt: number | undefined
    const verdict = yield* Deferred.make<CircuitBreaker.Outcome>()
    const fiber = yield* Effect.fork(
      Effect.scoped(
        Effect.gen(function* () {
          const pass = yield* breaker.admit(KEY, maxWaitMillis === undefined ? undefined : { maxWaitMillis })
          admittedAt = yield* Clock.currentTimeMillis
          yield* pass.report(yield* Deferred.await(verdict))
        })
      )
    )
    const self: Caller = {
      fiber,
      admittedAt: () => admittedAt,
      finish: (outcome) => Effect.zipRight(Deferred.succeed(verdict, outcome), settle)
    }
    return self
  })

const callers = (breaker: CircuitBreaker.Service, n: number, maxWaitMillis?: number) =>
  Effect.gen(function* () {
    const all = yield* Effect.forEach(Array.from({ length: n }), () => caller(breaker, maxWaitMillis))
    yield* settle
    return all
  })

const admitted = (all: ReadonlyArray<Caller>) => all.filter((c) => c.admittedAt() !== undefined).length

describe("CircuitBreaker, cold start", () => {
  it.scoped("lets five calls out on a key with no success yet, and the rest at once when one succeeds", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const all = yield* callers(breaker, 20)
      expect(admitted(all)).toBe(5)
      yield* TestClock.adjust("300 millis")
      expect(admitted(all)).toBe(5)
      yield* all[0]!.finish("success")
      expect(admitted(all)).toBe(20)
      expect(all.slice(5).every((c) => c.admittedAt() === 300)).toBe(true)
      // Proven now: later callers are not held, however many are out.
      const later = yield* callers(breaker, 10)
      expect(admitted(later)).toBe(10)
    })
  )

  it.scoped("lets the held calls go when the hold (1 s by default) has passed without a verdict", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const all = yield* callers(breaker, 12)
      yield* TestClock.adjust("999 millis")
      expect(admitted(all)).toBe(5)
      yield* TestClock.adjust("1 millis")
      expect(admitted(all)).toBe(12)
      expect(all.slice(5).every((c) => c.admittedAt() === 1000)).toBe(true)
    })
  )

  it.scoped("gives a slot back for an ignored verdict but not for a failure, and neither proves the key", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const all = yield* callers(breaker, 10)
      yield* all[0]!.finish("failure")
      expect(admitted(all)).toBe(5)
      yield* all[1]!.finish("ignored")
      expect(admitted(all)).toBe(6)
      yield* all
        .slice(5)
        .find((c) => c.admittedAt() !== undefined)!
        .finish("ignored")
      expect(admitted(all)).toBe(7)
      expect(yield* breaker.state(KEY)).toBe("Closed")
    })
  )

  it.scoped("opens on the failures of the cold calls; the held calls then wait for the probe, not the hold", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const all = yield* callers(breaker, 20)
      for (const c of all.slice(0, 5)) yield* c.finish("failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
      expect(admitted(all)).toBe(5)
      // Past the 1 s hold, still waiting: the wait is now for the probe, after the first break of 0.5 s.
      yield* TestClock.adjust("1500 millis")
      expect(yield* breaker.state(KEY)).toBe("HalfOpen")
      expect(admitted(all)).toBe(6)
      const probe = all.slice(5).find((c) => c.admittedAt() !== undefined)!
      expect(probe.admittedAt()).toBe(500)
      yield* probe.finish("success")
      expect(admitted(all)).toBe(20)
      expect(
        all
          .slice(5)
          .filter((c) => c !== probe)
          .every((c) => c.admittedAt() === 1500)
      ).toBe(true)
    })
  )

  it.scoped("closing after a successful probe proves the key: no hold after a recovery", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* Effect.forEach(Array.from({ length: 5 }), () =>
        Effect.scoped(Effect.flatMap(breaker.admit(KEY, { maxWaitMillis: 0 }), (pass) => pass.report("failure")))
      )
      yield* TestClock.adjust("500 millis")
      yield* Effect.scoped(Effect.flatMap(breaker.admit(KEY), (pass) => pass.report("success")))
      const all = yield* callers(breaker, 20)
      expect(admitted(all)).toBe(20)
    })
  )

  it.scoped(
    "holds even a caller that may not wait for a probe, and refuses it once the cold calls opened the key",
    () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make()
        const cold = yield* callers(breaker, 5)
        const impatient = yield* callers(breaker, 3, 0)
        expect(admitted(impatient)).toBe(0)
        for (const c of cold) yield* c.finish("failure")
        const exits = yield* Effect.forEach(impatient, (c) => Fiber.await(c.fiber))
        expect(exits.every((exit) => exit._tag === "Failure")).toBe(true)
        const refused = yield* Effect.either(Effect.scoped(breaker.admit(KEY, { maxWaitMillis: 0 })))
        expect(Either.isLeft(refused) && refused.left._tag).toBe("CircuitOpen")
      })
  )

  it.scoped("defaults its number of calls to consecutiveFailures", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 3 })
      expect(admitted(yield* callers(breaker, 10))).toBe(3)
    })
  )

  it.scoped("takes its numbers from coldStart, and lets everything out with coldStart: false", () =>
    Effect.gen(function* () {
      const two = yield* CircuitBreaker.make({ coldStart: { calls: 2, hold: "100 millis" } })
      const held = yield* callers(two, 6)
      expect(admitted(held)).toBe(2)
      yield* TestClock.adjust("100 millis")
      expect(admitted(held)).toBe(6)
      const off = yield* CircuitBreaker.make({ coldStart: false })
      expect(admitted(yield* callers(off, 30))).toBe(30)
      const zero = yield* CircuitBreaker.make({ coldStart: { calls: 0 } })
      expect(admitted(yield* callers(zero, 30))).toBe(30)
    })
  )

  it.effect("refuses invalid coldStart options, naming the option", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [CircuitBreaker.Options, string]> = [
        [{ coldStart: { calls: -1 } }, "coldStart.calls"],
        [{ coldStart: { calls: 1.5 } }, "coldStart.calls"],
        [{ coldStart: { hold: "0 millis" } }, "coldStart.hold"],
        [{ coldStart: { hold: "soon" as never } }, "coldStart.hold"],
        [{ coldStart: true as never }, "coldStart"]
      ]
      for (const [options, field] of cases) {
        const error = yield* Effect.flip(Effect.scoped(CircuitBreaker.make(options)))
        expect(error._tag).toBe("InvalidCircuitBreakerOptions")
        expect(error.field).toBe(field)
      }
    })
  )
})
