/**
 * The metrics of the circuit breaker and the retry budget, in Effect's global registry beside `GrokMetrics`.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Status } from "./state.js"

/** `grok_breaker_state{key}`: 0 closed, 1 open, 2 half-open (the encoding Resilience4j uses). */
export const breakerState = Metric.gauge("grok_breaker_state", {
  description: "Circuit breaker status by key: 0 closed, 1 open, 2 half-open"
})

/** `grok_breaker_transitions_total{key,from,to}`. */
export const breakerTransitions = Metric.counter("grok_breaker_transitions_total", {
  description: "Circuit breaker status changes by key, previous and new status",
  incremental: true
})

/** `grok_breaker_shared_unavailable_total`: fleet calls of a shared breaker that failed (it ran locally then). */
export const sharedUnavailable = Metric.counter("grok_breaker_shared_unavailable_total", {
  description: "Calls of a shared circuit breaker to its store (Redis) that failed; the breaker ran locally meanwhile",
  incremental: true
})

/** `grok_retry_budget_tokens`: tokens left in the client-wide retry budget. */
export const retryBudgetTokens = Metric.gauge("grok_retry_budget_tokens", {
  description: "Tokens left in the client-wide retry budget; a retry that costs more than this is not made"
})

const code: Record<Status, number> = { Closed: 0, Open: 1, HalfOpen: 2 }

/** Records one status change of `key`. */
export const recordTransition = (key: string, from: Status, to: Status): Effect.Effect<void> =>
  Effect.zipRight(
    Metric.increment(
      Metric.tagged(Metric.tagged(Metric.tagged(breakerTransitions, "key", key), "from", from), "to", to)
    ),
    Metric.set(Metric.tagged(breakerState, "key", key), code[to])
  )
