/**
 * The metrics every Grok call records, as Effect `Metric`s in Effect's global registry, and the functions the
 * client calls to record them.
 *
 * Names follow Prometheus and OpenTelemetry conventions: counters end in `_total`, durations are histograms in
 * seconds ending in `_seconds`. Export them with `Prometheus.render` (text for a `/metrics` endpoint) or with the
 * OpenTelemetry layers of `grok-resilience/otel`. docs/observability.md lists every metric with its labels.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as GrokApi from "./GrokApi.js"
import {
  admissionWaitUpdates,
  attemptUpdates,
  callUpdates,
  rateLimitUpdates,
  rejectedTotal,
  retriesTotal,
  usageUpdates
} from "./internal/grokMetrics.js"
import { labelled, updateAll } from "./internal/labelledMetric.js"
import type { RateLimitInfo } from "./RateLimitHeaders.js"

export {
  /**
   * Histogram boundaries in seconds for LLM latencies, from 50 ms to 5 minutes (reasoning models take minutes).
   *
   * @since 0.1.0
   * @category boundaries
   */
  latencyBoundaries,
  /**
   * Histogram boundaries in seconds for the time spent waiting for admission, from 1 ms to 2 minutes.
   *
   * @since 0.1.0
   * @category boundaries
   */
  admissionBoundaries,
  /**
   * Histogram boundaries for the number of attempts one call took.
   *
   * @since 0.1.0
   * @category boundaries
   */
  attemptBoundaries,
  /**
   * `grok_calls_total{model,outcome}`: finished calls (after every retry).
   *
   * @since 0.1.0
   * @category metrics
   */
  callsTotal,
  /**
   * `grok_call_duration_seconds{model,outcome}`: whole-call latency, admission waits and retries included.
   *
   * @since 0.1.0
   * @category metrics
   */
  callDuration,
  /**
   * `grok_call_attempts{model,outcome}`: how many attempts each finished call took.
   *
   * @since 0.1.0
   * @category metrics
   */
  callAttempts,
  /**
   * `grok_attempts_total{model,outcome,status}`: single HTTP attempts.
   *
   * @since 0.1.0
   * @category metrics
   */
  attemptsTotal,
  /**
   * `grok_attempt_duration_seconds{model,outcome}`: latency of one HTTP attempt.
   *
   * @since 0.1.0
   * @category metrics
   */
  attemptDuration,
  /**
   * `grok_retries_total{model,error}`: retries scheduled, by the error that caused them.
   *
   * @since 0.1.0
   * @category metrics
   */
  retriesTotal,
  /**
   * `grok_rejected_total{model,reason}`: calls shed or refused on our side before sending.
   *
   * @since 0.1.0
   * @category metrics
   */
  rejectedTotal,
  /**
   * `grok_admission_wait_seconds{model}`: time an attempt waited for the rate limiter.
   *
   * @since 0.1.0
   * @category metrics
   */
  admissionWait,
  /**
   * `grok_tokens_total{model,kind}`: tokens reported by `usage`; `kind` is prompt, completion, reasoning or cached.
   *
   * @since 0.1.0
   * @category metrics
   */
  tokensTotal,
  /**
   * `grok_cost_usd_total{model}`: spend in US dollars, from `usage.cost_in_usd_ticks`.
   *
   * @since 0.1.0
   * @category metrics
   */
  costUsdTotal,
  /**
   * `grok_ratelimit_remaining{model,limit}`: the remaining quota the last response's headers announced.
   *
   * @since 0.1.0
   * @category metrics
   */
  rateLimitRemaining,
  /**
   * The `status` label: the HTTP status as a string, or "none" when there was no answer.
   *
   * @since 0.1.0
   * @category utils
   */
  statusLabel
} from "./internal/grokMetrics.js"

/**
 * Adds labels to a metric, data-first so that the metric keeps its type.
 *
 * @since 0.1.0
 * @category utils
 */
export const withLabels = <Type, In, Out>(
  metric: Metric.Metric<Type, In, Out>,
  labels: Readonly<Record<string, string>>
): Metric.Metric<Type, In, Out> => labelled(metric, labels)

/**
 * The `outcome` label of a finished effect: "success", the `_tag` of a tagged failure, "Failure" for an untagged
 * one, "Interrupted" or "Defect".
 *
 * @since 0.1.0
 * @category utils
 */
export const outcomeOfExit = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  if (Exit.isInterrupted(exit)) return "Interrupted"
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) return "Defect"
  const error = failure.value
  return Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag) ? error._tag : "Failure"
}

/**
 * Records one HTTP attempt: `grok_attempts_total` and `grok_attempt_duration_seconds`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordAttempt = (o: {
  readonly model: string
  readonly outcome: string
  readonly status?: number | undefined
  readonly durationMillis: number
}): Effect.Effect<void> => updateAll(attemptUpdates(o))

/**
 * Records one finished call: `grok_calls_total`, `grok_call_duration_seconds` and `grok_call_attempts`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordCall = (o: {
  readonly model: string
  readonly outcome: string
  readonly attempts: number
  readonly durationMillis: number
}): Effect.Effect<void> => updateAll(callUpdates(o))

/**
 * Records a retry about to be scheduled after `errorTag`: `grok_retries_total`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordRetry = (o: { readonly model: string; readonly errorTag: string }): Effect.Effect<void> =>
  Metric.increment(withLabels(retriesTotal, { model: o.model, error: o.errorTag }))

/**
 * Records a call shed or refused before sending (`reason` is the `Rejected` reason): `grok_rejected_total`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordRejected = (o: { readonly model: string; readonly reason: string }): Effect.Effect<void> =>
  Metric.increment(withLabels(rejectedTotal, { model: o.model, reason: o.reason }))

/**
 * Records the time one attempt waited for admission: `grok_admission_wait_seconds`.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordAdmissionWait = (o: {
  readonly model: string
  readonly durationMillis: number
}): Effect.Effect<void> => updateAll(admissionWaitUpdates(o))

/**
 * Records the `usage` of a response: `grok_tokens_total` by kind and `grok_cost_usd_total`.
 *
 * `cached` tokens are part of `prompt` tokens and `reasoning` tokens are not part of `completion` tokens, as xAI
 * reports them: do not add the kinds up.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordUsage = (o: { readonly model: string; readonly usage: GrokApi.Usage }): Effect.Effect<void> =>
  updateAll(usageUpdates(o))

/**
 * Records the remaining quota announced by rate-limit headers: `grok_ratelimit_remaining{limit=requests|tokens}`.
 * A limit the headers did not mention keeps its previous value.
 *
 * @since 0.1.0
 * @category recording
 */
export const recordRateLimitInfo = (o: {
  readonly model: string
  readonly info: RateLimitInfo
}): Effect.Effect<void> => {
  const updates = rateLimitUpdates(o)
  return updates.length === 0 ? Effect.void : updateAll(updates)
}

export {
  /**
   * `grok_limiter_adaptive_rate{key}`: in adaptive mode, the requests per second learned for each budget key.
   *
   * @since 0.1.0
   * @category metrics
   */
  limiterAdaptiveRate,
  /**
   * `grok_limiter_cooldown_active`: 1 while a shared cooldown (after a 429) holds every send, else 0.
   *
   * @since 0.1.0
   * @category metrics
   */
  limiterCooldownActive,
  /**
   * `grok_limiter_cooldown_remaining_seconds`: how long the current cooldown still holds sends, or 0.
   *
   * @since 0.1.0
   * @category metrics
   */
  limiterCooldownRemaining,
  /**
   * `grok_limiter_in_flight`: admitted attempts not yet finished.
   *
   * @since 0.1.0
   * @category metrics
   */
  limiterInFlight,
  /**
   * `grok_limiter_queue_depth`: attempts waiting in the admission queue.
   *
   * @since 0.1.0
   * @category metrics
   */
  limiterQueueDepth,
  /**
   * Records a limiter snapshot: queue depth, in-flight attempts, whether a cooldown is active, the adaptive rates.
   *
   * @since 0.1.0
   * @category recording
   */
  recordLimiterState
} from "./internal/limiterMetrics.js"

export {
  /**
   * `grok_stream_tokens_per_second{model}`: completion tokens over the time from the first item of a stream to its
   * end.
   *
   * @since 0.2.0
   * @category metrics
   */
  streamTokensPerSecond,
  /**
   * `grok_time_to_first_token_seconds{model}`: from sending a streamed request to its first chunk or event.
   *
   * @since 0.2.0
   * @category metrics
   */
  timeToFirstToken
} from "./internal/streamMetrics.js"
