/**
 * Pure parsers for the rate-limit headers xAI and OpenAI-compatible servers send, into one `RateLimitInfo`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * What a server said about one limit (requests or tokens).
 *
 * @since 0.1.0
 * @category schemas
 */
export const LimitWindow = Schema.Struct({
  limit: Schema.optional(Schema.Number),
  remaining: Schema.optional(Schema.Number),
  /** Milliseconds from the response until the window resets. */
  resetMillis: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type LimitWindow = typeof LimitWindow.Type

/**
 * Everything the headers of one response say about pacing.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RateLimitInfo = Schema.Struct({
  /** How long the server asks us to wait, from `retry-after-ms` or `Retry-After` (seconds or HTTP-date). */
  retryAfterMillis: Schema.optional(Schema.Number),
  /** `x-should-retry`: the server's own verdict on retrying, which overrides our table. */
  shouldRetry: Schema.optional(Schema.Boolean),
  requests: Schema.optional(LimitWindow),
  tokens: Schema.optional(LimitWindow)
})

/**
 * @since 0.1.0
 * @category models
 */
export type RateLimitInfo = typeof RateLimitInfo.Type

/**
 * A limit named in a 429 body, e.g. "Requests per Second (actual/limit): 21/20".
 *
 * @since 0.1.0
 * @category schemas
 */
export const BodyLimitHint = Schema.Struct({
  kind: Schema.Literal("requests", "tokens"),
  per: Schema.Literal("second", "minute", "hour", "day"),
  actual: Schema.Number,
  limit: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export type BodyLimitHint = typeof BodyLimitHint.Type
