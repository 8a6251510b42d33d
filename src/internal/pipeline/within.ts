/**
 * The attempt timeout, for less than `Effect.timeout`. As there, the work and a sleep on the fiber's Clock race in
 * two child fibers, and when the sleep wins the work is interrupted (which aborts the request) and awaited. Unlike
 * there, the caller waits on the two fibers' observers instead of joining the winner through the race machinery,
 * and a sleep that lost is interrupted without waiting for it. The work's FiberRef changes stay in its own fiber:
 * what runs inside (an HTTP exchange) makes none that the caller reads. On Effect's live Clock the timer is a plain
 * `setTimeout`, as the live Clock's own sleep is, without a fiber of its own: one fork a call instead of two. Any
 * other Clock (TestClock, a caller's own) gets the sleep on a fiber, so virtual time moves it as it moves any sleep.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import { clockOf, isLive } from "../fiberClock.js"
import { MAX_TIMER_MILLIS } from "./fetchTimer.js"

/** The attempt's timer, whichever kind it is: started with what to do when it fires, stopped once not needed. */
interface Timer {
  readonly start: (fire: () => void) => void
  readonly stop: () => void
}

/** The first of the work's end and the timer's, as the caller's result: none when the time ran out. */
const settled = <A, E>(
  work: Fiber.RuntimeFiber<A, E>,
  timer: Timer,
  caller: FiberId.FiberId
): Effect.Effect<Option.Option<A>, E> =>
  Effect.async<Option.Option<A>, E>((resume) => {
    let done = false
    const onWork = (exit: Exit.Exit<A, E>) => {
      if (done) return
      done = true
      timer.stop()
      resume(Exit.map(exit, Option.some))
    }
    const onTimer = () => {
      if (done) return
      done = true
      work.removeObserver(onWork)
      work.unsafeInterruptAsFork(caller)
      work.addObserver(() => resume(Exit.succeed(Option.none())))
    }
    work.addObserver(onWork)
    timer.start(onTimer)
    // The caller was interrupted: stop both, and wait for the work to end as `Effect.timeout` does.
    return Effect.async<void>((ended) => {
      done = true
      timer.stop()
      work.removeObserver(onWork)
      work.unsafeInterruptAsFork(caller)
      work.addObserver(() => ended(Effect.void))
    })
  })

/** A sleep in a fiber of its own, on any Clock: a sleep that lost is interrupted without waiting for it. */
const fiberTimer = (sleeper: Fiber.RuntimeFiber<void>, caller: FiberId.FiberId): Timer => {
  let fired: (() => void) | undefined
  return {
    start: (fire) => {
      fired = fire
      sleeper.addObserver(fire)
    },
    stop: () => {
      if (fired !== undefined) sleeper.removeObserver(fired)
      sleeper.unsafeInterruptAsFork(caller)
    }
  }
}

/** A plain `setTimeout`, as the live Clock's own sleep is: for the live Clock only. */
const plainTimer = (millis: number): Timer => {
  let handle: ReturnType<typeof setTimeout> | undefined
  return {
    start: (fire) => {
      if (millis <= MAX_TIMER_MILLIS) handle = setTimeout(fire, millis)
    },
    stop: () => clearTimeout(handle)
  }
}

/** Runs `effect` for at most `duration` by the fiber's Clock: its value, or none when the time ran out. */
export const within = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput
): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.fork(restore(effect)), (work) =>
      Effect.withFiberRuntime<Option.Option<A>, E>((caller) =>
        isLive(clockOf(caller))
          ? restore(settled(work, plainTimer(Duration.toMillis(Duration.decode(duration))), caller.id()))
          : Effect.flatMap(Effect.fork(Effect.interruptible(Clock.sleep(duration))), (sleeper) =>
              restore(settled(work, fiberTimer(sleeper, caller.id()), caller.id()))
            )
      )
    )
  )
