/** The metrics of streamed calls: time to the first item and output tokens per second; `GrokMetrics` re-exports them. */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as GrokApi from "../GrokApi.js"
import { labelled } from "./labelledMetric.js"

/** `grok_time_to_first_token_seconds{model}`: from sending a streamed request to its first item. */
export const timeToFirstToken = Metric.histogram(
  "grok_time_to_first_token_seconds",
  MetricBoundaries.fromIterable([0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]),
  "Seconds from sending a streamed Grok request to its first chunk or event, by model"
)

/** `grok_stream_tokens_per_second{model}`: completion tokens over the time from the first item to the end. */
export const streamTokensPerSecond = Metric.histogram(
  "grok_stream_tokens_per_second",
  MetricBoundaries.fromIterable([1, 5, 10, 25, 50, 100, 200, 400, 800]),
  "Completion tokens per second of a finished Grok stream, from its first item to its end, by model"
)

/** Records one finished stream. */
export const recordStream = (o: {
  readonly model: string
  readonly firstItemMillis: number
  readonly streamMillis: number
  readonly usage: GrokApi.Usage | undefined
}): Effect.Effect<void> => {
  const labels = { model: o.model }
  const first = Metric.update(labelled(timeToFirstToken, labels), Math.max(0, o.firstItemMillis) / 1000)
  const tokens = o.usage?.completion_tokens
  if (tokens === undefined || o.streamMillis <= 0) return first
  const rate = Metric.update(labelled(streamTokensPerSecond, labels), tokens / (o.streamMillis / 1000))
  return Effect.zipRight(first, rate)
}
