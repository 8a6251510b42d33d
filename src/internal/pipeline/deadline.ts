/**
 * The one deadline of a call: it bounds the whole call (queueing, attempts, retry waits), and the retry stage asks
 * it whether a retry could still start in time instead of sleeping only to be cut off.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { Rejected, type GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"

export interface Deadline {
  /** Clock millis past which the call must not run; undefined for no deadline. */
  readonly at: number | undefined
}

export const none: Deadline = { at: undefined }

/** The deadline of a call started at `nowMillis`. */
export const startAt = (budget: Duration.DurationInput | undefined, nowMillis: number): Deadline =>
  budget === undefined ? none : { at: nowMillis + Duration.toMillis(Duration.decode(budget)) }

export const start = (budget: Duration.DurationInput | undefined): Effect.Effect<Deadline> =>
  Effect.map(Clock.currentTimeMillis, (now) => startAt(budget, now))

/** Whether something planned to start at `millis` still starts in time. */
export const allows = (self: Deadline, millis: number): boolean => self.at === undefined || millis <= self.at

/** The error of a call stopped by its deadline, naming the last failure when there was one; counted once here. */
export const exceeded = (model: string, last?: GrokError): Effect.Effect<Rejected> =>
  Effect.as(
    GrokMetrics.recordRejected({ model, reason: "DeadlineExceeded" }),
    new Rejected({
      reason: "DeadlineExceeded",
      ...(last !== undefined ? { detail: `last error: ${last.message}` } : {})
    })
  )

/** Runs `self` within the deadline: past it, the call fails with `Rejected(DeadlineExceeded)`. */
export const bound = <A>(
  self: Deadline,
  model: string,
  effect: Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const at = self.at
  if (at === undefined) return effect
  return Effect.flatMap(Clock.currentTimeMillis, (now) =>
    effect.pipe(
      Effect.timeoutFail({ duration: Duration.millis(Math.max(0, at - now)), onTimeout: () => undefined }),
      Effect.catchIf(
        (error): error is undefined => error === undefined,
        () => Effect.flatMap(exceeded(model), Effect.fail)
      )
    )
  )
}
