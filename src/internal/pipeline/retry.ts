/**
 * The retry stage: runs attempts until one succeeds or the policy, the pipeline's own rule or the deadline says
 * stop. The rule comes first and no `Schedule` can override it: an error whose `isRetryable` is false (which
 * already reflects `x-should-retry`) is never retried, whatever the policy.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import type { GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import type { RetryPolicy } from "../../RetryPolicy.js"
import * as Deadline from "./deadline.js"

/** How far a call got; written by this stage only, read by the pipeline when the deadline cuts the call off. */
export interface Progress {
  attempts: number
}

const context = (error: GrokError, attempt: number) => ({
  attempt,
  errorTag: error._tag,
  error: error.message,
  ...(error.status !== undefined ? { status: error.status } : {}),
  ...(error.requestId !== undefined ? { requestId: error.requestId } : {})
})

/** A give-up the caller will see as a typed failure: Info, never Error, since the caller may well handle it. */
const giveUp = (error: GrokError, attempt: number, why: string) =>
  Effect.logInfo(`grok call failed: ${why}`).pipe(Effect.annotateLogs(context(error, attempt)))

export interface Options {
  readonly policy: RetryPolicy
  readonly deadline: Deadline.Deadline
  readonly model: string
  readonly progress: Progress
}

/** Runs `attempt` (given its number, from 1) under the policy. */
export const retrying = <A>(
  options: Options,
  attempt: (n: number) => Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const { policy, progress } = options
  const loop = (state: unknown): Effect.Effect<A, GrokError> => {
    const n = ++progress.attempts
    return Effect.catchAll(attempt(n), (error) =>
      Effect.gen(function* () {
        if (!error.isRetryable) {
          yield* giveUp(error, n, "not retryable")
          return yield* Effect.fail(error)
        }
        const now = yield* Clock.currentTimeMillis
        const [next, , decision] = yield* policy.step(now, error, state)
        if (ScheduleDecision.isDone(decision)) {
          yield* giveUp(error, n, "the retry policy gave up")
          return yield* Effect.fail(error)
        }
        const startAt = Intervals.start(decision.intervals)
        if (!Deadline.allows(options.deadline, startAt)) {
          yield* giveUp(error, n, "the deadline leaves no time to retry")
          return yield* Effect.flatMap(Deadline.exceeded(options.model, error), Effect.fail)
        }
        const delayMillis = Math.max(0, startAt - now)
        yield* GrokMetrics.recordRetry({ model: options.model, errorTag: error._tag })
        yield* Effect.annotateCurrentSpan({ "grok.retry_delay_ms": delayMillis })
        yield* Effect.logDebug("grok call failed: retrying").pipe(
          Effect.annotateLogs({ ...context(error, n), delayMillis })
        )
        if (delayMillis > 0) yield* Effect.sleep(delayMillis)
        return yield* loop(next)
      })
    )
  }
  return Effect.suspend(() => loop(policy.initial))
}
