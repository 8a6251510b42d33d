/** The Clock read inside a step the caller already runs (`Effect.withFiberRuntime`), without an effect of its own. */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"

/** The Clock `Clock.currentTimeMillis` would use on `fiber` (TestClock included). */
export const clockOf = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Clock.Clock =>
  Context.get(fiber.currentDefaultServices, Clock.Clock)

/** What `Clock.currentTimeMillis` would give on `fiber` now. */
export const millisOf = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): number => clockOf(fiber).unsafeCurrentTimeMillis()

/** The class of Effect's live Clock, which `Clock.make()` instances share. */
const liveClock = Object.getPrototypeOf(Clock.make())

/** Whether `clock` is Effect's live Clock (real time), not a TestClock or a caller's own. */
export const isLive = (clock: Clock.Clock): boolean => Object.getPrototypeOf(clock) === liveClock
