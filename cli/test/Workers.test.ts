import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Workers from "../src/workers.js"

/** A stream of 0, 1, 2, ... in chunks of `chunk`, counting the elements read from it. */
const counted = (count: number, chunk: number) => {
  const state = { read: 0 }
  const numbers = function* () {
    for (let i = 0; i < count; i++) {
      state.read++
      yield i
    }
  }
  return { state, stream: Stream.fromIteratorSucceed(numbers(), chunk) }
}

describe("Workers.drain", () => {
  it.effect("handles every element exactly once, at most `concurrency` at once", () =>
    Effect.gen(function* () {
      const { stream } = counted(300, 32)
      const seen: Array<number> = []
      let running = 0
      let most = 0
      const handle = (n: number) =>
        Effect.suspend(() => {
          running++
          most = Math.max(most, running)
          return Effect.sleep(Duration.millis(n % 7)).pipe(
            Effect.ensuring(Effect.sync(() => void running--)),
            Effect.tap(() => void seen.push(n))
          )
        })
      const fiber = yield* Effect.fork(Workers.drain(stream, 8, handle))
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(fiber)
      expect(seen.length).toBe(300)
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i))
      expect(most).toBe(8)
    })
  )

  it.effect("reads the stream only as far as the handlers have got", () =>
    Effect.gen(function* () {
      const { state, stream } = counted(1_000_000, 10)
      let handled = 0
      const fiber = yield* Effect.fork(
        Workers.drain(stream, 4, () =>
          Effect.zipRight(
            Effect.sleep("1 second"),
            Effect.sync(() => void handled++)
          )
        )
      )
      yield* TestClock.adjust("10 seconds")
      expect(handled).toBe(40)
      // The chunk in use and no more: 44 elements were taken by the four workers, so 50 were read.
      expect(state.read).toBeLessThanOrEqual(50)
      yield* Fiber.interrupt(fiber)
    })
  )

  it.effect("fails with the first failure and interrupts the other handlers", () =>
    Effect.gen(function* () {
      const { stream } = counted(100, 5)
      const interrupted: Array<number> = []
      const handle = (n: number) =>
        n === 3
          ? Effect.zipRight(Effect.sleep("1 second"), Effect.fail(`failed at ${n}`))
          : Effect.sleep("1 minute").pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(n))))
      const fiber = yield* Effect.fork(Workers.drain(stream, 4, handle))
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && [...Cause.failures(exit.cause)]).toEqual(["failed at 3"])
      expect(interrupted.sort()).toEqual([0, 1, 2])
    })
  )

  it.effect("fails with the stream's failure", () =>
    Effect.gen(function* () {
      const stream = Stream.concat(Stream.make(1, 2), Stream.fail("unreadable"))
      const handled: Array<number> = []
      const exit = yield* Effect.exit(Workers.drain(stream, 2, (n) => Effect.sync(() => void handled.push(n))))
      expect(exit).toEqual(Exit.fail("unreadable"))
      expect(handled.sort()).toEqual([1, 2])
    })
  )

  it.effect("interrupting the whole interrupts every handler and reads no further", () =>
    Effect.gen(function* () {
      const { state, stream } = counted(1000, 4)
      const interrupted: Array<number> = []
      const fiber = yield* Effect.fork(
        Workers.drain(stream, 3, (n) =>
          Effect.sleep("1 minute").pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(n))))
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      expect(interrupted.sort()).toEqual([0, 1, 2])
      expect(state.read).toBe(4)
    })
  )

  it.effect("ends at once on an empty stream", () =>
    Effect.gen(function* () {
      let handled = 0
      yield* Workers.drain(Stream.empty, 64, () => Effect.sync(() => void handled++))
      expect(handled).toBe(0)
    })
  )
})
