/**
 * The shared budget behind a `RateLimiter`: the interface a store implements (`MemoryStore` in process,
 * `RedisStore` across machines), and its error.
 *
 * A store decides one thing: whether the budget of a key lets one more request (and its token estimate) go now.
 * Queueing, priorities, concurrency and deadlines stay in each process; only the budget and the cooldown are
 * shared. Every method is one atomic step, so that a Redis store can implement each as one Lua script.
 *
 * ## The algorithm every store must implement: GCRA on two dimensions
 *
 * Each key keeps one theoretical arrival time (TAT, epoch millis) per dimension (`requests`, `tokens`) and one
 * `holdUntil`. For a dimension with `intervalMillis = I`, `burst = B` and a cost `n`:
 *
 * ```
 * base    = max(tat, now)
 * allowAt = base + n·I − max(B, n)·I        // a cost above the burst waits for a full bucket (tat ≤ now)
 * ```
 *
 * `reserve` admits when `holdUntil ≤ now` and `allowAt ≤ now` on every limited dimension; it then sets
 * `tat = base + n·I` on each of them (all or nothing). Otherwise nothing changes and `retryAfterMillis` is the
 * largest of `holdUntil − now` and each `allowAt − now` (waits under 1e-6 ms are floating-point noise: admit).
 * `settle` moves a TAT by `delta·I`: a charge from `max(tat, now)`, a refund down to `now` at the lowest. `hold`
 * raises `holdUntil` (never lowers it).
 *
 * `now` is the store's own clock: the memory store reads Effect's `Clock`; a Redis store should read Redis
 * `TIME` so that every process agrees.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

/**
 * The pacing of one dimension: one unit every `intervalMillis`, at most `burst` units back to back.
 *
 * @since 0.1.0
 * @category models
 */
export interface Gcra {
  /** Milliseconds per unit (per request, or per token): the window divided by the limit. */
  readonly intervalMillis: number
  /** Units that may go back to back after a quiet spell; at least 1. */
  readonly burst: number
}

/**
 * The limits in force for one call. An absent dimension is not limited. They travel with every call rather than
 * being configured in the store, so that adaptive mode can change them and a Redis store stays stateless.
 *
 * @since 0.1.0
 * @category models
 */
export interface Limits {
  readonly requests?: Gcra
  readonly tokens?: Gcra
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ReserveRequest {
  /** The budget key, e.g. `grok:grok-4`. */
  readonly key: string
  /** Requests to take; the limiter always asks for 1. */
  readonly requests: number
  /** Tokens to take: the estimate of the call. */
  readonly tokens: number
  readonly limits: Limits
}

/**
 * The answer of `reserve`: taken, or not taken and when to ask again.
 *
 * @since 0.1.0
 * @category models
 */
export type Reservation =
  | { readonly ok: true }
  | {
      readonly ok: false
      /** Milliseconds until the reservation could succeed if nothing else changes (always > 0). */
      readonly retryAfterMillis: number
    }

/**
 * @since 0.1.0
 * @category models
 */
export interface SettleRequest {
  readonly key: string
  /** Requests to give back (negative) or charge (positive). */
  readonly requests: number
  /** Tokens to give back (negative) or charge (positive): `usedTokens − estimate`. */
  readonly tokens: number
  readonly limits: Limits
}

/**
 * @since 0.1.0
 * @category models
 */
export interface HoldRequest {
  readonly key: string
  /** How long from the store's `now` no reservation of this key succeeds. */
  readonly millis: number
}

/**
 * The store's operations. Each is atomic and may fail with `RateLimiterStoreError` (e.g. Redis unreachable).
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Takes one request and its token estimate from the key's budget, all or nothing. */
  readonly reserve: (request: ReserveRequest) => Effect.Effect<Reservation, RateLimiterStoreError>
  /** Gives back or charges the difference once the real cost is known. */
  readonly settle: (request: SettleRequest) => Effect.Effect<void, RateLimiterStoreError>
  /**
   * Holds every reservation of the key for `millis` (a shared cooldown); never shortens a longer hold.
   * Returns the epoch millis (store clock) until which the key is now held.
   */
  readonly hold: (request: HoldRequest) => Effect.Effect<number, RateLimiterStoreError>
  /**
   * How the limiter should fail open over this store, when it does (`onStoreError: "fallback"`): the share of each
   * limit one process keeps while the store is down, and a cheap probe to learn it is back. A store without it is
   * failed over at its full limits and probed with an empty reservation.
   */
  readonly failover?: Failover
}

/**
 * What a shared store tells the limiter about failing over, read when an outage starts.
 *
 * @since 0.2.0
 * @category models
 */
export interface Failover {
  /** The share of each limit one process keeps alone, in (0, 1]; `1 / workers` keeps the workers within the quota. */
  readonly localShare: Effect.Effect<number>
  /** Succeeds once the store answers again. */
  readonly probe: Effect.Effect<void, unknown>
  /** Time between two probes during an outage. Default 1 second. */
  readonly probeInterval?: Duration.DurationInput
  /** The store's name in log lines, e.g. "Redis". */
  readonly name: string
}

/**
 * The store a `RateLimiter` built with `RateLimiter.layerStore` uses.
 *
 * @since 0.1.0
 * @category tags
 */
export class RateLimiterStore extends Context.Tag("grok-resilience/RateLimiterStore")<RateLimiterStore, Service>() {}

/**
 * The store could not answer (e.g. Redis unreachable or a script failed).
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimiterStoreError extends Schema.TaggedError<RateLimiterStoreError>()("RateLimiterStoreError", {
  /** Which operation failed. */
  operation: Schema.Literal("reserve", "settle", "hold"),
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message(): string {
    return `The rate limiter store failed during ${this.operation}: ${this.detail}`
  }
}
