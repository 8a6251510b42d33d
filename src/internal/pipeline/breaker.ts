/**
 * The breaker stage: lets one attempt through the circuit breaker of its budget key (`${baseUrl}|${model}`), and
 * reports the attempt's verdict. While the breaker is open the attempt waits for the half-open probe, for as long
 * as the call can spare; past that it fails with `Rejected({ reason: "CircuitOpen", retryAfterMillis })`.
 *
 * It sits inside the retry stage, so a retry during an outage waits for the probe instead of sending, and outside
 * admission, so a waiter holds no limiter slot and the calls a successful probe releases are paced like any other.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as CircuitBreaker from "../../CircuitBreaker.js"
import { Rejected, type GrokError } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import type * as Deadline from "./deadline.js"

export const keyOf = (baseUrl: string, model: string): string => `${baseUrl}|${model}`

/**
 * How long an attempt may wait for the probe's verdict. Not at all when another model can answer instead (the
 * fallback stage moves on at once); otherwise until the call's deadline or its `maxQueueWait`, whichever is
 * sooner; undefined when it has neither, which leaves the breaker's own default (the rest of the break and one
 * probe timeout).
 */
export const waitMillis = (options: {
  readonly deadline: Deadline.Deadline
  readonly maxQueueWaitMillis: number | undefined
  readonly fallbackNext: boolean
  readonly now: number
}): number | undefined => {
  if (options.fallbackNext) return 0
  const untilDeadline = options.deadline.at === undefined ? undefined : Math.max(0, options.deadline.at - options.now)
  const queueWait = options.maxQueueWaitMillis
  if (untilDeadline === undefined || queueWait === undefined) return untilDeadline ?? queueWait
  return Math.min(untilDeadline, queueWait)
}

/** Whether an attempt on `key` would wait for a probe now: the breaker is open or its probe is out. */
export const holdsBack = (breaker: CircuitBreaker.Service, key: string): Effect.Effect<boolean> =>
  Effect.map(breaker.state(key), (status) => status !== "Closed")

/** How one attempt passes: which breaker (none: no breaker stage), which key, how long it may wait. */
export interface Gate {
  readonly breaker: CircuitBreaker.Service | undefined
  readonly key: string
  readonly model: string
  readonly maxWaitMillis: number | undefined
  /** Run when the breaker refuses the attempt: it was never sent, so it must not count as one. */
  readonly refused: Effect.Effect<void>
}

/** The breaker refused the attempt: it was never sent, so it does not count, and the call sees `Rejected`. */
const refuse = (gate: Gate, open: CircuitBreaker.CircuitOpenError): Effect.Effect<never, Rejected> =>
  Effect.zipRight(
    Effect.zipRight(gate.refused, GrokMetrics.recordRejected({ model: gate.model, reason: "CircuitOpen" })),
    Effect.fail(
      new Rejected({
        reason: "CircuitOpen",
        retryAfterMillis: open.retryAfterMillis,
        detail: `model ${gate.model}`
      })
    )
  )

/**
 * Lets the attempt through (undefined when there is no breaker), makes it the probe, or waits for the probe's
 * verdict; the pass lives as long as the scope.
 */
export const enter = (gate: Gate): Effect.Effect<CircuitBreaker.Pass | undefined, Rejected, Scope.Scope> => {
  if (gate.breaker === undefined) return Effect.succeed(undefined)
  return Effect.matchEffect(gate.breaker.admit(gate.key, { maxWaitMillis: gate.maxWaitMillis }), {
    onFailure: (open) => refuse(gate, open),
    onSuccess: (pass) =>
      pass.probe ? Effect.as(Effect.annotateCurrentSpan("grok.breaker_probe", true), pass) : Effect.succeed(pass)
  })
}

/** The verdict on an attempt: success, or a failure that counts (Transient) or not (everything else). */
export const verdictOf = (error?: GrokError): CircuitBreaker.Outcome =>
  error === undefined ? "success" : CircuitBreaker.countsAsFailure(error) ? "failure" : "ignored"

/** Reports the verdict on an attempt to its pass, if it has one. */
export const judge = (pass: CircuitBreaker.Pass | undefined, error?: GrokError): Effect.Effect<void> =>
  pass === undefined ? Effect.void : pass.report(verdictOf(error))

/**
 * Runs `attempt` through the gate and reports its verdict: its value or its error (a defect or an interruption
 * leaves the report to the pass's scope, which counts it as "ignored").
 */
export const guarded = <A>(
  gate: Gate,
  attempt: Effect.Effect<A, GrokError, Scope.Scope>
): Effect.Effect<A, GrokError, Scope.Scope> =>
  gate.breaker === undefined
    ? attempt
    : Effect.flatMap(enter(gate), (pass) =>
        Effect.matchCauseEffect(attempt, {
          onSuccess: (value) => Effect.as(judge(pass), value),
          onFailure: (cause) =>
            cause._tag === "Fail"
              ? Effect.zipRight(judge(pass, cause.error), Effect.failCause(cause))
              : Effect.tapError(Effect.failCause(cause), (error) => judge(pass, error))
        })
      )
