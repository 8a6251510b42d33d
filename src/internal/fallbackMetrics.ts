/**
 * The metric of the fallback stage, in Effect's global registry beside `GrokMetrics` (rendered by `Prometheus`
 * like every `grok_` metric).
 */
import type * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { withLabels } from "../GrokMetrics.js"

/** `grok_fallbacks_total{from,to,error}`: calls that gave up a model and went on to the next one. */
export const fallbacksTotal = Metric.counter("grok_fallbacks_total", {
  description: "Grok calls moved from one model to the next, by both models and the error that gave up the first",
  incremental: true
})

/** Records a call that gave up model `from` after `errorTag` and goes on to `to`. */
export const recordFallback = (o: {
  readonly from: string
  readonly to: string
  readonly errorTag: string
}): Effect.Effect<void> => Metric.increment(withLabels(fallbacksTotal, { from: o.from, to: o.to, error: o.errorTag }))
