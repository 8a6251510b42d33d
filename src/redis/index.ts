/**
 * `grok-resilience/redis`: the rate limiter's budget shared across processes and machines through Redis.
 * Requires the `ioredis` peer dependency.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as RedisStore from "./RedisStore.js"
