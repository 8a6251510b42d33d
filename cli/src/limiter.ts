/**
 * The rate limiter of a batch run, built from the CLI options: requests and tokens per minute, concurrency, and
 * (with `--redis`) a budget shared with the other workers that use the same Redis and limiter key.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { RateLimiter } from "grok-resilience"
import { describe, UsageError } from "./errors.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Requests per minute; none means adaptive (learned from 429s and rate-limit headers) unless `tpm` is set. No
   * burst is passed: the limiter assumes 50 ms worth of the rate, so a worker that fell behind (GC, a slow disk)
   * never catches up with more than that.
   */
  readonly rpm: Option.Option<number>
  /** Tokens per minute. */
  readonly tpm: Option.Option<number>
  /** Calls in flight at once in this process. */
  readonly concurrency: number
  /** Redis URL of a shared budget. */
  readonly redis: Option.Option<string>
  /** Prefix of the budget keys; workers with the same Redis and key share one quota. */
  readonly limiterKey: string
}

/**
 * The limiter over the Redis store of `grok-resilience/redis`, loaded only when `--redis` is given, so that the
 * optional `ioredis` is required only then. Redis that does not answer does not stop the run: each worker paces
 * itself at its share of the quota until Redis is back (the store's `failOpen`).
 *
 * @since 0.1.0
 * @category layers
 */
export const redisLimiter = (
  url: string,
  limits: Omit<RateLimiter.Options, "store" | "onStoreError">
): Layer.Layer<RateLimiter.RateLimiter, UsageError> =>
  Layer.unwrapEffect(
    Effect.tryPromise({
      try: () => import("grok-resilience/redis"),
      catch: (error) =>
        new UsageError({
          message: `--redis needs the optional dependency ioredis (npm install ioredis): ${describe(error)}`
        })
    }).pipe(
      Effect.map(({ RedisStore }) =>
        Layer.mapError(
          RedisStore.layerRateLimiter(limits, { url }),
          (error) => new UsageError({ message: error.message })
        )
      )
    )
  )

/**
 * A Redis URL with any password replaced by `***`, for messages.
 *
 * @since 0.1.0
 * @category utils
 */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(an invalid URL)"
  }
}

/**
 * The limiter options for the CLI options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const settings = (options: Options): Omit<RateLimiter.Options, "store"> => ({
  ...Option.match(options.rpm, { onNone: () => ({}), onSome: (requestsPerMinute) => ({ requestsPerMinute }) }),
  ...Option.match(options.tpm, { onNone: () => ({}), onSome: (tokensPerMinute) => ({ tokensPerMinute }) }),
  maxConcurrency: options.concurrency,
  key: options.limiterKey
})

/**
 * The limiter layer: in memory, or over the Redis store with `--redis`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RateLimiter.RateLimiter, UsageError> => {
  const limits = settings(options)
  return Option.match(options.redis, {
    onNone: () => Layer.mapError(RateLimiter.layer(limits), (error) => new UsageError({ message: error.message })),
    onSome: (url) => redisLimiter(url, limits)
  })
}
