/** The Clock read inside a step the caller already runs (`Effect.withFiberRuntime`), without an effect of its own. */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Fiber from "effect/Fiber"

/** What `Clock.currentTimeMillis` would give on `fiber` now (TestClock included). */
export const millisOf = <A, E>(fiber: Fiber.RuntimeFiber<A, E>): number =>
  Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis()
