/**
 * Wraps a retry policy so that every decision is logged and counted, and so that a call's deadline stops
 * retries that could not finish in time.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import type { GrokError } from "./GrokError.js"
import * as GrokMetrics from "./GrokMetrics.js"
import type { RetryPolicy } from "./RetryPolicy.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ObserveOptions {
  readonly model: string
  readonly attempts: Ref.Ref<number>
  /** Epoch millis after which no retry may start. */
  readonly deadlineAt?: number
  /** Set when the deadline, not the policy, stopped the retries. */
  readonly deadlineHit?: Ref.Ref<boolean>
}

const context = (error: GrokError, attempt: number) => ({
  attempt,
  errorTag: error._tag,
  error: error.message,
  ...(error.status !== undefined ? { status: error.status } : {}),
  ...(error.requestId !== undefined ? { requestId: error.requestId } : {})
})

/**
 * The policy, logging each retry (`Warning`) and each give-up (`Error` when retryable, `Info` when not).
 *
 * @since 0.1.0
 * @category combinators
 */
export const observeRetries = (policy: RetryPolicy, options: ObserveOptions): RetryPolicy =>
  Schedule.makeWithState(policy.initial, (now, error: GrokError, state) =>
    Effect.gen(function* () {
      const [next, out, decision] = yield* policy.step(now, error, state)
      const attempt = yield* options.attempts
      if (ScheduleDecision.isDone(decision)) {
        yield* error.isRetryable
          ? Effect.logError("grok call failed: giving up").pipe(Effect.annotateLogs(context(error, attempt)))
          : Effect.logInfo("grok call failed: not retryable").pipe(Effect.annotateLogs(context(error, attempt)))
        return [next, out, decision] as const
      }
      const start = Intervals.start(decision.intervals)
      if (options.deadlineAt !== undefined && start > options.deadlineAt) {
        if (options.deadlineHit) yield* Ref.set(options.deadlineHit, true)
        yield* Effect.logError("grok call failed: deadline leaves no time to retry").pipe(
          Effect.annotateLogs(context(error, attempt))
        )
        return [next, out, ScheduleDecision.done] as const
      }
      const delayMillis = Math.max(0, start - now)
      yield* GrokMetrics.recordRetry({ model: options.model, errorTag: error._tag })
      yield* Effect.annotateCurrentSpan({ "grok.retry_delay_ms": delayMillis })
      yield* Effect.logWarning("grok call failed: retrying").pipe(
        Effect.annotateLogs({ ...context(error, attempt), delayMillis })
      )
      return [next, out, decision] as const
    })
  )
