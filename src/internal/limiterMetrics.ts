/** The rate limiter's gauges and the recording of a limiter snapshot; `GrokMetrics` re-exports them. */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricLabel from "effect/MetricLabel"
import type { Snapshot } from "./admission/contract.js"
import { labelled, type Update, updateAll } from "./labelledMetric.js"

/**
 * `grok_limiter_queue_depth`: attempts waiting in the admission queue.
 */
export const limiterQueueDepth = Metric.gauge("grok_limiter_queue_depth", {
  description: "Grok attempts waiting in the rate limiter's admission queue"
})

/**
 * `grok_limiter_in_flight`: admitted attempts not yet finished.
 */
export const limiterInFlight = Metric.gauge("grok_limiter_in_flight", {
  description: "Grok attempts admitted by the rate limiter and not yet finished"
})

/**
 * `grok_limiter_cooldown_active`: 1 while a shared cooldown (after a 429) holds every send, else 0.
 */
export const limiterCooldownActive = Metric.gauge("grok_limiter_cooldown_active", {
  description: "1 while the rate limiter holds every send after a 429, else 0"
})

/**
 * `grok_limiter_cooldown_remaining_seconds`: how long the current cooldown still holds sends, or 0.
 */
export const limiterCooldownRemaining = Metric.gauge("grok_limiter_cooldown_remaining_seconds", {
  description: "Seconds until the rate limiter's cooldown ends, or 0"
})

/**
 * `grok_limiter_adaptive_rate{key}`: in adaptive mode, the requests per second the limiter learned for each budget key.
 */
export const limiterAdaptiveRate = Metric.gauge("grok_limiter_adaptive_rate", {
  description: "Requests per second the adaptive rate limiter currently allows, by budget key"
})

const stateUpdates = (o: { readonly snapshot: Snapshot; readonly nowMillis: number }): ReadonlyArray<Update> => {
  const remainingMillis = Math.max(0, o.snapshot.holdUntilMillis - o.nowMillis)
  const updates: Array<Update> = [
    [limiterQueueDepth, o.snapshot.queued],
    [limiterInFlight, o.snapshot.inFlight],
    [limiterCooldownActive, remainingMillis > 0 ? 1 : 0],
    [limiterCooldownRemaining, remainingMillis / 1000]
  ]
  const rates = o.snapshot.rates
  if (rates !== undefined) for (const key in rates) updates.push([labelled(limiterAdaptiveRate, { key }), rates[key]!])
  return updates
}

/**
 * Records a limiter snapshot: queue depth, in-flight attempts, whether a cooldown is active at `nowMillis`, and in
 * adaptive mode the learned rate of each budget key.
 */
export const recordLimiterState = (o: {
  readonly snapshot: Snapshot
  readonly nowMillis: number
}): Effect.Effect<void> => updateAll(stateUpdates(o))

/** `recordLimiterState` in the caller's step, with the fiber's metric labels already read. */
export const unsafeRecordLimiterState = (
  o: { readonly snapshot: Snapshot; readonly nowMillis: number },
  labels: ReadonlyArray<MetricLabel.MetricLabel>
): void => {
  for (const [metric, input] of stateUpdates(o)) metric.unsafeUpdate(input, labels)
}
