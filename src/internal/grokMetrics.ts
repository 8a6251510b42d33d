/**
 * The definitions of the metrics every Grok call records (re-exported with their docs by `GrokMetrics`) and the
 * updates that record a call, an attempt, a usage and rate-limit headers: lists that the call path applies in one
 * step with the fiber's metric labels, and that `GrokMetrics`'s recording effects apply one list at a time.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import * as GrokApi from "../GrokApi.js"
import type { RateLimitInfo } from "../RateLimitHeaders.js"
import { byLabels, labelled, type Update } from "./labelledMetric.js"

/** Histogram boundaries in seconds for LLM latencies, from 50 ms to 5 minutes (reasoning models take minutes). */
export const latencyBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.fromIterable([
  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300
])

/** Histogram boundaries in seconds for the time spent waiting for admission, from 1 ms to 2 minutes. */
export const admissionBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.fromIterable([
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
])

/** Histogram boundaries for the number of attempts one call took. */
export const attemptBoundaries: MetricBoundaries.MetricBoundaries = MetricBoundaries.fromIterable([
  1, 2, 3, 4, 5, 6, 8, 10
])

/** `grok_calls_total{model,outcome}`: finished calls (after every retry). */
export const callsTotal = Metric.counter("grok_calls_total", {
  description: "Grok calls finished, after retries, by model and outcome (success or error tag)",
  incremental: true
})

/** `grok_call_duration_seconds{model,outcome}`: whole-call latency, admission waits and retries included. */
export const callDuration = Metric.histogram(
  "grok_call_duration_seconds",
  latencyBoundaries,
  "Latency of whole Grok calls in seconds, including admission waits and retries"
)

/** `grok_call_attempts{model,outcome}`: how many attempts each finished call took. */
export const callAttempts = Metric.histogram(
  "grok_call_attempts",
  attemptBoundaries,
  "Attempts per finished Grok call (1 means no retry)"
)

/** `grok_attempts_total{model,outcome,status}`: single HTTP attempts. */
export const attemptsTotal = Metric.counter("grok_attempts_total", {
  description: "Grok HTTP attempts by model, outcome (success or error tag) and HTTP status (or none)",
  incremental: true
})

/** `grok_attempt_duration_seconds{model,outcome}`: latency of one HTTP attempt. */
export const attemptDuration = Metric.histogram(
  "grok_attempt_duration_seconds",
  latencyBoundaries,
  "Latency of single Grok HTTP attempts in seconds"
)

/** `grok_retries_total{model,error}`: retries scheduled, by the error that caused them. */
export const retriesTotal = Metric.counter("grok_retries_total", {
  description: "Grok retries by model and the error tag that caused them",
  incremental: true
})

/** `grok_rejected_total{model,reason}`: calls shed or refused on our side before sending. */
export const rejectedTotal = Metric.counter("grok_rejected_total", {
  description: "Grok calls shed or rejected before sending, by model and reason",
  incremental: true
})

/** `grok_admission_wait_seconds{model}`: time an attempt waited for the rate limiter. */
export const admissionWait = Metric.histogram(
  "grok_admission_wait_seconds",
  admissionBoundaries,
  "Time Grok attempts waited for rate-limiter admission in seconds"
)

/** `grok_tokens_total{model,kind}`: tokens reported by `usage`; `kind` is prompt, completion, reasoning or cached. */
export const tokensTotal = Metric.counter("grok_tokens_total", {
  description: "Tokens reported by Grok usage, by model and kind (prompt, completion, reasoning, cached)",
  incremental: true
})

/** `grok_cost_usd_total{model}`: spend in US dollars, from `usage.cost_in_usd_ticks`. */
export const costUsdTotal = Metric.counter("grok_cost_usd_total", {
  description: "Cost of Grok calls in US dollars, from usage.cost_in_usd_ticks",
  incremental: true
})

/** `grok_ratelimit_remaining{model,limit}`: the remaining quota the last response's headers announced. */
export const rateLimitRemaining = Metric.gauge("grok_ratelimit_remaining", {
  description: "Remaining quota announced by the last x-ratelimit-remaining-* headers, by model and limit"
})

/** The `status` label: the HTTP status as a string, or "none" when there was no answer. */
export const statusLabel = (status: number | undefined): string => (status === undefined ? "none" : String(status))

const seconds = (millis: number) => Math.max(0, millis) / 1000

/** The labelled metrics of one label set, made once: one lookup a call instead of one per metric. */
const sets = <L extends ReadonlyArray<string>, M>(make: (...labels: L) => M): ((...labels: L) => M) => {
  const cache = byLabels<M>()
  return (...labels) => cache(labels.join("\u0000"), () => make(...labels))
}

const attemptMetrics = sets(
  (model: string, outcome: string, status: string) =>
    [labelled(attemptsTotal, { model, outcome, status }), labelled(attemptDuration, { model, outcome })] as const
)

/** One HTTP attempt: `grok_attempts_total` and `grok_attempt_duration_seconds`. */
export const attemptUpdates = (o: {
  readonly model: string
  readonly outcome: string
  readonly status?: number | undefined
  readonly durationMillis: number
}): Array<Update> => {
  const [total, duration] = attemptMetrics(o.model, o.outcome, statusLabel(o.status))
  return [
    [total, 1],
    [duration, seconds(o.durationMillis)]
  ]
}

const callMetrics = sets((model: string, outcome: string) => {
  const labels = { model, outcome }
  return [labelled(callsTotal, labels), labelled(callDuration, labels), labelled(callAttempts, labels)] as const
})

/** One finished call: `grok_calls_total`, `grok_call_duration_seconds` and `grok_call_attempts`. */
export const callUpdates = (o: {
  readonly model: string
  readonly outcome: string
  readonly attempts: number
  readonly durationMillis: number
}): Array<Update> => {
  const [total, duration, attempts] = callMetrics(o.model, o.outcome)
  return [
    [total, 1],
    [duration, seconds(o.durationMillis)],
    [attempts, o.attempts]
  ]
}

/** The time one attempt waited for admission: `grok_admission_wait_seconds`. */
export const admissionWaitUpdates = (o: { readonly model: string; readonly durationMillis: number }): Array<Update> => [
  [labelled(admissionWait, { model: o.model }), seconds(o.durationMillis)]
]

const usageKinds = ["prompt", "completion", "reasoning", "cached"] as const

const usageMetrics = sets((model: string) => ({
  kinds: usageKinds.map((kind) => [kind, labelled(tokensTotal, { model, kind })] as const),
  cost: labelled(costUsdTotal, { model })
}))

/** The `usage` of a response: `grok_tokens_total` by kind and `grok_cost_usd_total` (when the cost is reported). */
export const usageUpdates = (o: { readonly model: string; readonly usage: GrokApi.Usage }): Array<Update> => {
  const summary = GrokApi.usageSummary(o.usage)
  const metrics = usageMetrics(o.model)
  const updates = metrics.kinds.map(([kind, metric]): Update => [metric, summary[kind]])
  if (o.usage.cost_in_usd_ticks !== undefined) updates.push([metrics.cost, summary.costUsd])
  return updates
}

/** The remaining quota the headers announced, `grok_ratelimit_remaining{limit}`: none for a limit not mentioned. */
export const rateLimitUpdates = (o: { readonly model: string; readonly info: RateLimitInfo }): Array<Update> => {
  const updates: Array<Update> = []
  for (const limit of ["requests", "tokens"] as const) {
    const remaining = o.info[limit]?.remaining
    if (remaining !== undefined) updates.push([labelled(rateLimitRemaining, { model: o.model, limit }), remaining])
  }
  return updates
}
