/**
 * Break lengths from a `Schedule`: the n-th break is the delay the schedule gives at its n-th step, found by
 * running the schedule from its start (the breaker keeps only the step number, so a store can hold its state).
 */
import * as Effect from "effect/Effect"
import type * as Schedule from "effect/Schedule"
import * as ScheduleIntervals from "effect/ScheduleIntervals"

/** Past this many failed probes the break stays at the schedule's value for this step. */
const MAX_STEPS = 10_000
/** No break is longer than a day, whatever the schedule says (an infinite break would never probe again). */
export const MAX_BREAK_MILLIS = 86_400_000

const clamp = (millis: number): number =>
  Number.isFinite(millis) ? Math.min(MAX_BREAK_MILLIS, Math.max(0, millis)) : millis > 0 ? MAX_BREAK_MILLIS : 0

/**
 * The delay of step `index` (0 = the first break) of `schedule`, as if it had run from `now`. A schedule that
 * ends keeps its last delay; one that ends before its first step gives 0.
 */
export const breakMillis = (
  schedule: Schedule.Schedule<unknown, unknown>,
  index: number,
  now: number
): Effect.Effect<number> =>
  Effect.gen(function* () {
    let state: unknown = schedule.initial
    let at = now
    let delay = 0
    const steps = Math.min(Math.max(0, index), MAX_STEPS) + 1
    for (let step = 0; step < steps; step++) {
      const [next, , decision] = yield* schedule.step(at, step, state)
      if (decision._tag === "Done") break
      delay = clamp(ScheduleIntervals.start(decision.intervals) - at)
      state = next
      at += delay
    }
    return delay
  })
