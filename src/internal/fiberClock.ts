/** The Clock read inside a step the caller already runs (`Effect.withFiberRuntime`), without an effect of its own. */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"

/** The Clock `Clock.currentTimeMillis` would use on `fiber` (TestClock included). */
export const clockOf = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): Clock.Clock =>
  Context.get(fiber.currentDefaultServices, Clock.Clock)

/** What `Clock.currentTimeMillis` would give on `fiber` now. */
export const millisOf = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): number => clockOf(fiber).unsafeCurrentTimeMillis()
