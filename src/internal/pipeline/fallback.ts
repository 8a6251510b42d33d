/**
 * The fallback stage: runs the call on its model, and when that fails in a way another model may not share, on
 * the next model of the list, in order. A model is given up when it fails with a retryable error after the retry
 * stage is done with it (the policy gave up, or the retry budget refused), or when its breaker is open (`Rejected(CircuitOpen)`). A bad request, a refused key or spent credits would fail the same way on any
 * model, and a call past its deadline has no time left: those end the call.
 *
 * A hand-written loop rather than `effect/ExecutionPlan`; docs/containment.md gives the reasons.
 */
import * as Effect from "effect/Effect"
import type { GrokError } from "../../GrokError.js"
import { recordFallback } from "../fallbackMetrics.js"

/** Whether the next model should be tried after `error`. */
export const movesOn = (error: GrokError): boolean =>
  error.isRetryable || (error._tag === "Rejected" && error.reason === "CircuitOpen")

/** The models to try, in order: the call's own first, then the fallbacks, each once. */
export const chain = (model: string, fallbacks: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set([model, ...fallbacks.filter((fallback) => fallback.length > 0)])
]

/**
 * Runs `run` on the first model of `models`, then on each next one while the last failure `movesOn`. `run` is
 * told whether another model follows (an attempt does not wait for a probe when it does).
 */
export const falling = <A>(
  models: ReadonlyArray<string>,
  run: (model: string, hasNext: boolean) => Effect.Effect<A, GrokError>
): Effect.Effect<A, GrokError> => {
  const from = (index: number): Effect.Effect<A, GrokError> => {
    const model = models[index]!
    const next = models[index + 1]
    if (next === undefined) return run(model, false)
    return Effect.catchIf(run(model, true), movesOn, (error) =>
      Effect.logInfo("grok call: falling back to the next model").pipe(
        Effect.annotateLogs({ from: model, to: next, errorTag: error._tag, error: error.message }),
        Effect.zipRight(recordFallback({ from: model, to: next, errorTag: error._tag })),
        Effect.zipRight(from(index + 1))
      )
    )
  }
  return from(0)
}
