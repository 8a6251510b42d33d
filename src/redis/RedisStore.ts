/**
 * The Redis store of the `RateLimiter`: one quota shared by every process and machine that uses the same Redis,
 * prefix and limiter key. Each decision (`reserve`, `settle`, `hold`) is one Lua script run atomically in Redis on
 * Redis's own clock, so the clocks of the workers do not matter; a 429 seen by one worker holds all of them.
 *
 * When Redis is down, restarting, or slower than `commandTimeout`, `onUnavailable` decides: `"failOpen"` (the
 * default) paces each process locally at `localShare` of the quota until Redis answers again; `"failClosed"`
 * fails admissions with `Rejected({ reason: "LimiterUnavailable" })`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as RateLimiter from "../RateLimiter.js"
import * as RateLimiterStore from "../RateLimiterStore.js"
import * as RedisConnection from "../internal/redis/connection.js"
import * as Scripts from "../internal/redis/scripts.js"
import * as SharedBreaker from "../internal/redis/sharedBreaker.js"

/**
 * What to do while Redis does not answer.
 *
 * - `"failOpen"`: keep admitting, paced by a local memory store that holds `localShare` of every limit; one
 *   warning when the outage starts, one line when Redis is back.
 * - `"failClosed"`: every admission that needs Redis fails with `Rejected({ reason: "LimiterUnavailable" })`
 *   (the limiter must run with `onStoreError: "reject"`, as `layerRateLimiter` sets it).
 *
 * @since 0.1.0
 * @category models
 */
export type OnUnavailable = "failOpen" | "failClosed"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends RedisConnection.Options {
  /** The namespace of every key this store writes. Default `"grok-resilience"`. */
  readonly prefix?: string
  /**
   * How long a budget key outlives its state: it expires this long after its last TAT or hold has passed, when it
   * would behave like a fresh key anyway. Default 60 seconds.
   */
  readonly keyTtl?: Duration.DurationInput
  /** Default `"failOpen"`. */
  readonly onUnavailable?: OnUnavailable
  /**
   * `"failOpen"` only: the share of each limit one process keeps while Redis is down, in (0, 1]. Default `"auto"`:
   * `1 / workers`, where workers is the number of processes on this prefix Redis last reported (heartbeats of the
   * last `3 × heartbeatInterval`), or `expectedWorkers` when Redis never answered this process.
   */
  readonly localShare?: number | "auto"
  /**
   * `localShare: "auto"` only: the workers to assume when Redis was down from the start, so that nobody has
   * counted them. Default 2: two workers stay within the quota, a lone worker runs at half of it until Redis
   * answers, and more than two overshoot it by `workers / 2` (set it to your fleet size, or `localShare`).
   */
  readonly expectedWorkers?: number
  /** `"failOpen"` only: time between two attempts to reach Redis again during an outage. Default 1 second. */
  readonly probeInterval?: Duration.DurationInput
  /** How often each process tells Redis it is alive, to count the workers for `localShare: "auto"`. Default 2 s. */
  readonly heartbeatInterval?: Duration.DurationInput
}

/**
 * The store without failover: its operations fail with `RateLimiterStoreError` when Redis does not answer, and
 * `reserveAt` also gives the Redis time of the decision (for tests and tools that measure admissions).
 *
 * @since 0.1.0
 * @category models
 */
export interface Direct extends RateLimiterStore.Service {
  readonly reserveAt: (
    request: RateLimiterStore.ReserveRequest
  ) => Effect.Effect<
    { readonly reservation: RateLimiterStore.Reservation; readonly nowMillis: number },
    RateLimiterStoreError
  >
  /** Processes that sent a heartbeat on this prefix recently (this one included), as of the last heartbeat. */
  readonly workers: Effect.Effect<number>
  /** The same, undefined while Redis has never answered a heartbeat of this process. */
  readonly knownWorkers: Effect.Effect<number | undefined>
  /** Succeeds when Redis answers a PING within the command timeout. */
  readonly ping: Effect.Effect<void, RateLimiterStoreError>
  /** The Redis key holding the budget of a limiter key. */
  readonly keyOf: (key: string) => string
}

type RateLimiterStoreError = RateLimiterStore.RateLimiterStoreError

const malformed = (operation: RateLimiterStoreError["operation"], reply: unknown) =>
  new RateLimiterStore.RateLimiterStoreError({
    operation,
    detail: `unexpected reply from the ${operation} script: ${JSON.stringify(reply)}`
  })

/**
 * Connects and returns the store without failover. The heartbeat of `localShare: "auto"` runs in the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDirect = (options: Options = {}): Effect.Effect<Direct, never, Scope.Scope> =>
  Effect.gen(function* () {
    const connection = yield* RedisConnection.make(options)
    const prefix = options.prefix ?? "grok-resilience"
    const margin = Math.ceil(Duration.toMillis(Duration.decode(options.keyTtl ?? "60 seconds")))
    const heartbeatInterval = Duration.decode(options.heartbeatInterval ?? "2 seconds")
    const keyOf = (key: string) => `${prefix}:budget:${key}`
    const workersKey = `${prefix}:workers`
    const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
    /** Undefined until Redis has answered a heartbeat. */
    let workers: number | undefined

    const reserveAt: Direct["reserveAt"] = (request) =>
      Effect.flatMap(
        connection.run("reserve", Scripts.reserve, [keyOf(request.key)], Scripts.reserveArgs(request, margin)),
        (reply) => {
          const answer = Scripts.parseReserve(reply)
          return answer === undefined ? Effect.fail(malformed("reserve", reply)) : Effect.succeed(answer)
        }
      )

    const settle: Direct["settle"] = (request) =>
      Effect.asVoid(connection.run("settle", Scripts.settle, [keyOf(request.key)], Scripts.settleArgs(request, margin)))

    const hold: Direct["hold"] = (request) =>
      Effect.flatMap(
        connection.run("hold", Scripts.hold, [keyOf(request.key)], Scripts.holdArgs(request, margin)),
        (reply) => {
          const until = Scripts.parseHold(reply)
          return until === undefined ? Effect.fail(malformed("hold", reply)) : Effect.succeed(until)
        }
      )

    const heartbeat = connection
      .run("hold", Scripts.heartbeat, [workersKey], ["", workerId, String(3 * Duration.toMillis(heartbeatInterval))])
      .pipe(
        Effect.tap((count) =>
          Effect.sync(() => {
            if (typeof count === "number" && count >= 1) workers = count
          })
        ),
        Effect.ignore
      )
    // Forget this worker when the scope closes, after the heartbeat fiber has stopped (finalizers run last first).
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => connection.client.zrem(workersKey, workerId).catch(() => 0)).pipe(
        Effect.timeout(Duration.millis(250)),
        Effect.ignore
      )
    )
    yield* heartbeat
    yield* Effect.forkScoped(Effect.repeat(heartbeat, Schedule.spaced(heartbeatInterval)))

    return {
      reserve: (request) => Effect.map(reserveAt(request), (answer) => answer.reservation),
      settle,
      hold,
      reserveAt,
      workers: Effect.sync(() => workers ?? 1),
      knownWorkers: Effect.sync(() => workers),
      ping: connection.ping,
      keyOf
    }
  })

/**
 * Connects and returns the store. Never fails and never waits longer than `connectTimeout` for Redis: a Redis that
 * is down at start is an outage like any other. With `"failOpen"` it tells the limiter how to fail over (the share
 * of `localShare`, a PING probe); the limiter's store gateway is the one place that acts on it. A `localShare`
 * outside (0, 1] or an `expectedWorkers` below 1 is a defect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<RateLimiterStore.Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const share = options.localShare ?? "auto"
    if (share !== "auto" && !(typeof share === "number" && share > 0 && share <= 1)) {
      return yield* Effect.dieMessage(`RedisStore: localShare must be "auto" or a number in (0, 1], got ${share}`)
    }
    const expected = options.expectedWorkers ?? 2
    if (!(Number.isFinite(expected) && expected >= 1)) {
      return yield* Effect.dieMessage(`RedisStore: expectedWorkers must be a number ≥ 1, got ${expected}`)
    }
    const direct = yield* makeDirect(options)
    const store: RateLimiterStore.Service = { reserve: direct.reserve, settle: direct.settle, hold: direct.hold }
    if ((options.onUnavailable ?? "failOpen") === "failClosed") return store
    const localShare =
      share === "auto" ? Effect.map(direct.knownWorkers, (n) => 1 / (n ?? expected)) : Effect.succeed(share)
    return {
      ...store,
      failover: {
        localShare,
        probe: direct.ping,
        ...(options.probeInterval !== undefined ? { probeInterval: options.probeInterval } : {}),
        name: "Redis"
      }
    }
  })

/**
 * Provides the Redis store as the `RateLimiterStore`, for `RateLimiter.layerStore`. The connection lives as long
 * as the layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { RateLimiter } from "grok-resilience"
 * import { RedisStore } from "grok-resilience/redis"
 *
 * const Limiter = RateLimiter.layerStore({ requestsPerSecond: 20, burst: 4, key: "team-a" }).pipe(
 *   Layer.provide(RedisStore.layer({ url: "redis://redis.internal:6379" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RateLimiterStore.RateLimiterStore> =>
  Layer.scoped(RateLimiterStore.RateLimiterStore, make(options))

/**
 * The Redis store with its URL read from `REDIS_URL`; the other options come from the argument.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Omit<Options, "url" | "client"> = {}
): Layer.Layer<RateLimiterStore.RateLimiterStore, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.string("REDIS_URL"), (url) => layer({ ...options, url })))

/**
 * The `RateLimiter` over the Redis store, with the limiter's `onStoreError` matching `onUnavailable` (`"reject"`
 * for `"failClosed"`), so that the failure behaviour is set in one place.
 *
 * @example
 * ```ts
 * import { RedisStore } from "grok-resilience/redis"
 *
 * // Ten workers, one team quota of 480 requests per minute on grok-4; refuse to run unpaced.
 * const Limiter = RedisStore.layerRateLimiter(
 *   { requestsPerMinute: 480, key: "team-a" },
 *   { url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379", onUnavailable: "failClosed" }
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRateLimiter = (
  limiter: Omit<RateLimiter.Options, "store" | "onStoreError">,
  options: Options = {}
): Layer.Layer<RateLimiter.RateLimiter, RateLimiter.InvalidLimiterOptions> =>
  RateLimiter.layerStore({
    ...limiter,
    onStoreError: (options.onUnavailable ?? "failOpen") === "failClosed" ? "reject" : "fallback"
  }).pipe(Layer.provide(layer(options)))

/**
 * The Redis side of `circuitBreaker`: the connection options of the store (pass the same `url`, or the same
 * `client` to share its connection for commands), `prefix` and `keyTtl` as for the store, and `pollInterval` /
 * `retryInterval` (docs/distributed.md gives their defaults and why). The store's own options object can be
 * passed as it is: the options that only concern the limiter are not read.
 *
 * @since 0.1.0
 * @category models
 */
export type CircuitBreakerOptions = SharedBreaker.Options

/**
 * A `CircuitBreaker` whose breaks and probes are shared through Redis, so that a fleet opens and closes together.
 * Each process still counts its own calls (no Redis call while a key is closed); when one opens a key, the others
 * see it open with the same break end (Redis time), one probe runs for the whole fleet (a lease in Redis), and its
 * verdict closes or reopens the key everywhere. When Redis does not answer, each process keeps its own breaker
 * state (one warning, `grok_breaker_shared_unavailable_total`) until it answers again. Invalid options fail with
 * `InvalidCircuitBreakerOptions`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const circuitBreaker = (
  breaker: CircuitBreaker.Options = {},
  options: CircuitBreakerOptions = {}
): Effect.Effect<CircuitBreaker.Service, CircuitBreaker.InvalidCircuitBreakerOptions, Scope.Scope> =>
  SharedBreaker.make(breaker, options)

/**
 * The shared circuit breaker as the `CircuitBreaker` service: a `GrokClient` built with it uses it instead of a
 * breaker of its own. The connections live as long as the layer.
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer, Redacted } from "effect"
 * import { GrokClient } from "grok-resilience"
 * import { RedisStore } from "grok-resilience/redis"
 *
 * const redis = { url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" }
 *
 * // Every worker: one quota and one breaker per model for the whole fleet.
 * const Grok = GrokClient.layer({ apiKey: Redacted.make(process.env.XAI_API_KEY ?? "") }).pipe(
 *   Layer.provide(FetchHttpClient.layer),
 *   Layer.provide(RedisStore.layerRateLimiter({ requestsPerMinute: 480, key: "team-a" }, redis)),
 *   Layer.provide(RedisStore.layerCircuitBreaker({}, redis))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerCircuitBreaker = (
  breaker: CircuitBreaker.Options = {},
  options: CircuitBreakerOptions = {}
): Layer.Layer<CircuitBreaker.CircuitBreaker, CircuitBreaker.InvalidCircuitBreakerOptions> =>
  Layer.scoped(CircuitBreaker.CircuitBreaker, circuitBreaker(breaker, options))
