import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as Mutex from "../src/internal/mutex.js"

/** Forks `effect` and lets it run until it waits. */
const start = <A, E>(effect: Effect.Effect<A, E>) => Effect.tap(Effect.fork(effect), () => Effect.yieldNow())

describe("Mutex", () => {
  it.effect("one holder at a time; waiters get the lock in the order they came", () =>
    Effect.gen(function* () {
      const mutex = Mutex.make()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* start(
        mutex.withLock(
          Effect.zipRight(
            Deferred.await(gate),
            Effect.sync(() => log.push("holder"))
          )
        )
      )
      const waiters = yield* Effect.forEach(["a", "b", "c"], (name) =>
        start(mutex.withLock(Effect.sync(() => log.push(name))))
      )
      expect(log).toEqual([])
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Effect.forEach(waiters, Fiber.join)
      expect(log).toEqual(["holder", "a", "b", "c"])
    })
  )

  it.effect("an interrupted waiter leaves the line and the next one gets the lock", () =>
    Effect.gen(function* () {
      const mutex = Mutex.make()
      const log: Array<string> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* start(mutex.withLock(Deferred.await(gate)))
      const a = yield* start(mutex.withLock(Effect.sync(() => log.push("a"))))
      const b = yield* start(mutex.withLock(Effect.sync(() => log.push("b"))))
      yield* Fiber.interrupt(a)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.join(b)
      expect(log).toEqual(["b"])
    })
  )

  it.effect("a failed or interrupted holder releases the lock", () =>
    Effect.gen(function* () {
      const mutex = Mutex.make()
      const failed = yield* Effect.exit(mutex.withLock(Effect.fail("boom")))
      expect(Exit.isFailure(failed)).toBe(true)
      const stuck = yield* start(mutex.withLock(Effect.never))
      yield* Fiber.interrupt(stuck)
      expect(yield* mutex.withLock(Effect.succeed("free"))).toBe("free")
    })
  )

  it.effect("serves hundreds of waiters, each exactly once, in order", () =>
    Effect.gen(function* () {
      const mutex = Mutex.make()
      const served: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const holder = yield* start(mutex.withLock(Deferred.await(gate)))
      const waiters = yield* Effect.forEach(
        Array.from({ length: 500 }, (_, i) => i),
        (i) => Effect.fork(mutex.withLock(Effect.sync(() => served.push(i))))
      )
      yield* Effect.yieldNow()
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(holder)
      yield* Effect.forEach(waiters, Fiber.join)
      expect(served).toEqual(Array.from({ length: 500 }, (_, i) => i))
    })
  )
})
