/**
 * The feedback stage: what one answer teaches the limiter (usage settles the token reservation, a 429 or an
 * exhausted window holds the budget key) and the metrics and span attributes of the attempt.
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import type * as GrokApi from "../../GrokApi.js"
import * as RateLimitHeaders from "../../RateLimitHeaders.js"
import type * as RateLimiter from "../../RateLimiter.js"
import { attemptUpdates, rateLimitUpdates, usageUpdates } from "../grokMetrics.js"
import { unsafeApply } from "../labelledMetric.js"
import type { Exchange } from "./attempt.js"
import { annotate } from "./span.js"

const feedbackOf = <A>(exchange: Exchange<A>, usage: GrokApi.Usage | undefined): RateLimiter.Feedback => {
  const error = Either.isLeft(exchange.result) ? exchange.result.left : undefined
  // Spent credits are not a rate: a 429 that says so must not cool down or slow the shared limiter.
  if (error?._tag === "QuotaExhausted") return { info: RateLimitHeaders.empty }
  return {
    info: exchange.info,
    ...(exchange.status !== undefined ? { status: exchange.status } : {}),
    ...(error?._tag === "RateLimited" && error.hint !== undefined ? { hint: error.hint } : {}),
    ...(usage !== undefined ? { usedTokens: usage.total_tokens } : {})
  }
}

interface Options<A> {
  readonly permit: RateLimiter.Permit
  readonly exchange: Exchange<A>
  readonly usage: (value: A) => GrokApi.Usage | undefined
  readonly model: string
  readonly durationMillis: number
}

/**
 * The attempt's span attributes and metrics, applied now on `fiber`, and its feedback to the permit, returned to
 * run; `learns: false` when the permit learns nothing (the unlimited one): then there is nothing to run.
 */
export const unsafeReport = <A>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  options: Options<A>,
  learns = true
): Effect.Effect<void> | undefined => {
  const { exchange, model } = options
  const usage = Either.isRight(exchange.result) ? options.usage(exchange.result.right) : undefined
  const outcome = Either.isRight(exchange.result) ? "success" : exchange.result.left._tag
  const span = fiber.currentSpan
  annotate(span, "http.response.status_code", exchange.status ?? 0)
  annotate(span, "grok.request_id", exchange.requestId ?? "")
  annotate(span, "grok.outcome", outcome)
  const updates = attemptUpdates({ model, outcome, status: exchange.status, durationMillis: options.durationMillis })
  updates.push(...rateLimitUpdates({ model, info: exchange.info }))
  if (usage !== undefined) updates.push(...usageUpdates({ model, usage }))
  unsafeApply(updates, fiber.getFiberRef(FiberRef.currentMetricLabels))
  return learns ? options.permit.report(feedbackOf(exchange, usage)) : undefined
}

/** The attempt's feedback to its permit, its span attributes and its metrics (every one in the same step). */
export const report = <A>(options: Options<A>): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => unsafeReport(fiber, options) ?? Effect.void)
