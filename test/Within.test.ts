import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, TestClock } from "effect"
import { within } from "../src/internal/pipeline/within.js"

describe("within (the attempt timeout)", () => {
  it.effect("gives the value of work done in time, at the time it is done", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(within(Effect.as(Effect.sleep("2 seconds"), "answer"), "5 seconds"))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toEqual(Option.some("answer"))
    })
  )

  it.effect("gives none at the timeout and interrupts the work, waiting for its finalizers", () =>
    Effect.gen(function* () {
      const finalized: Array<number> = []
      const work = Effect.sleep("1 minute").pipe(
        Effect.onInterrupt(() => Effect.flatMap(TestClockNow, (now) => Effect.sync(() => finalized.push(now))))
      )
      const fiber = yield* Effect.fork(within(work, "5 seconds"))
      yield* TestClock.adjust("4999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toEqual(Option.none())
      expect(finalized).toEqual([5000])
    })
  )

  it.effect("fails with the work's failure", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(within(Effect.fail("refused"), "5 seconds"))
      expect(exit).toEqual(Exit.fail("refused"))
    })
  )

  // TestClock (the sleep in a fiber) and the live Clock (a plain setTimeout) alike.
  for (const [clock, test] of [
    ["TestClock", it.effect],
    ["the live Clock", it.live]
  ] as const) {
    test(`on ${clock}: an interrupted caller interrupts the work and waits for it`, () =>
      Effect.gen(function* () {
        const started = yield* Deferred.make<void>()
        let interrupted = false
        const work = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
          Effect.onInterrupt(() => Effect.sync(() => (interrupted = true)))
        )
        const fiber = yield* Effect.fork(within(work, "5 seconds"))
        yield* Deferred.await(started)
        yield* Fiber.interrupt(fiber)
        expect(interrupted).toBe(true)
      }))
  }

  // On the live Clock the timer is a plain setTimeout rather than a sleeping fiber: the same rules hold.
  it.live("on the live Clock: none at the timeout, the work interrupted; the value when the work wins", () =>
    Effect.gen(function* () {
      let interrupted = false
      const stuck = Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      expect(yield* within(stuck, "1 millis")).toEqual(Option.none())
      expect(interrupted).toBe(true)
      expect(yield* within(Effect.succeed("answer"), "1 minute")).toEqual(Option.some("answer"))
      expect(yield* Effect.exit(within(Effect.fail("refused"), "1 minute"))).toEqual(Exit.fail("refused"))
      expect(yield* within(Effect.succeed("no timer"), Duration.infinity)).toEqual(Option.some("no timer"))
    })
  )
})

const TestClockNow = Effect.clockWith((clock) => clock.currentTimeMillis)
