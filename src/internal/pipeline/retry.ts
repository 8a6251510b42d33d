/**
 * The retry stage: runs attempts until one succeeds or the policy, the pipeline's own rule, the deadline or the
 * client's retry budget says stop. The rule comes first and no `Schedule` can override it: an error whose
 * `isRetryable` is false (which already reflects `x-should-retry`) is never retried, whatever the policy. A retry
 * the policy and the deadline allow is then paid for from the retry budget; when the budget refuses, the call
 * fails with its last error marked `retryBudgetSpent`. A success gives the budget back its refund.
 *
 * While the model's breaker holds calls back, the policy's delay is not slept: the next attempt waits for the
 * breaker's probe anyway, and the probe's verdict is the better backoff (a call that slept on would wake late,
 * after the probe had already released every other call).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import type { GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import type * as RetryBudget from "../../RetryBudget.js"
import type { RetryPolicy } from "../../RetryPolicy.js"
import { amend } from "./amend.js"
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
  readonly budget: RetryBudget.Service
  /** Whether the next attempt will wait for the breaker's probe (it is open or probing). */
  readonly heldBack: Effect.Effect<boolean>
}

/** Runs `attempt` (given its number, from 1) under the policy. */
export const retrying = <A>(
  options: Options,
  attempt: (n: number) => Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const { policy, progress, budget } = options
  /** `tries` counts this stage's attempts; `progress.attempts` those of the whole call (models and refreshes). */
  const loop = (state: unknown, tries: number): Effect.Effect<A, GrokError> => {
    const n = ++progress.attempts
    return Effect.matchEffect(attempt(n), {
      onSuccess: (value) => Effect.as(budget.onSuccess(tries === 1), value),
      onFailure: (error) => retryAfter(error, n, state, tries)
    })
  }
  const retryAfter = (error: GrokError, n: number, state: unknown, tries: number): Effect.Effect<A, GrokError> =>
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
      if (!(yield* budget.tryAcquire(error))) {
        yield* giveUp(error, n, "the retry budget is spent")
        return yield* Effect.fail(amend(error, { retryBudgetSpent: true }))
      }
      const delayMillis = (yield* options.heldBack) ? 0 : Math.max(0, startAt - now)
      yield* GrokMetrics.recordRetry({ model: options.model, errorTag: error._tag })
      yield* Effect.annotateCurrentSpan({ "grok.retry_delay_ms": delayMillis })
      yield* Effect.logDebug("grok call failed: retrying").pipe(
        Effect.annotateLogs({ ...context(error, n), delayMillis })
      )
      if (delayMillis > 0) yield* Effect.sleep(delayMillis)
      return yield* loop(next, tries + 1)
    })
  return Effect.suspend(() => loop(policy.initial, 1))
}
