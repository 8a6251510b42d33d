/**
 * The attempt timeout, for less than `Effect.timeout`. As there, the work and a sleep on the fiber's Clock race in
 * two child fibers, and when the sleep wins the work is interrupted (which aborts the request) and awaited. Unlike
 * there, the caller waits on the two fibers' observers instead of joining the winner through the race machinery,
 * and a sleep that lost is interrupted without waiting for it. The work's FiberRef changes stay in its own fiber:
 * what runs inside (an HTTP exchange) makes none that the caller reads.
 */
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"

/** The first of the work's end and the timer's, as the caller's result: none when the time ran out. */
const settled = <A, E>(
  work: Fiber.RuntimeFiber<A, E>,
  timer: Fiber.RuntimeFiber<void>,
  caller: FiberId.FiberId
): Effect.Effect<Option.Option<A>, E> =>
  Effect.async<Option.Option<A>, E>((resume) => {
    let done = false
    const onWork = (exit: Exit.Exit<A, E>) => {
      if (done) return
      done = true
      timer.removeObserver(onTimer)
      timer.unsafeInterruptAsFork(caller)
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
    timer.addObserver(onTimer)
    // The caller was interrupted: stop both, and wait for the work to end as `Effect.timeout` does.
    return Effect.async<void>((ended) => {
      done = true
      work.removeObserver(onWork)
      timer.removeObserver(onTimer)
      timer.unsafeInterruptAsFork(caller)
      work.unsafeInterruptAsFork(caller)
      work.addObserver(() => ended(Effect.void))
    })
  })

/** Runs `effect` for at most `duration` by the fiber's Clock: its value, or none when the time ran out. */
export const within = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  duration: Duration.DurationInput
): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Effect.fork(restore(effect)), (work) =>
      Effect.flatMap(Effect.fork(Effect.interruptible(Clock.sleep(duration))), (timer) =>
        Effect.withFiberRuntime<Option.Option<A>, E>((caller) => restore(settled(work, timer, caller.id())))
      )
    )
  )
