/**
 * Builds the circuit breaker shared through Redis: the store's kind of connection for the scripts, a second one
 * for the announcements, and the shared breaker of `src/internal/breaker/shared.ts` over them.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import type * as Breaker from "../breaker/breaker.js"
import { InvalidCircuitBreakerOptions } from "../breaker/errors.js"
import * as BreakerOptions from "../breaker/options.js"
import * as Shared from "../breaker/shared.js"
import * as Fleet from "./breakerFleet.js"
import * as RedisConnection from "./connection.js"

export interface Options extends RedisConnection.Options {
  /** The namespace of every key: the limiter store's `prefix`. Default `"grok-resilience"`. */
  readonly prefix?: string
  /** How long a key's record outlives its break (or its close). Default 60 seconds. */
  readonly keyTtl?: Duration.DurationInput
  /**
   * Longest time a process waiting on another process's probe goes without asking Redis, in case an announcement
   * was lost (its subscription was reconnecting). Default 1 second.
   */
  readonly pollInterval?: Duration.DurationInput
  /** After Redis failed to answer, how long the breaker stays local before asking it again. Default 1 second. */
  readonly retryInterval?: Duration.DurationInput
}

const positiveMillis = (
  field: string,
  value: Duration.DurationInput | undefined,
  fallback: number
): Either.Either<number, InvalidCircuitBreakerOptions> => {
  if (value === undefined) return Either.right(fallback)
  const decoded = Duration.decodeUnknown(value)
  const millis = decoded._tag === "Some" && Duration.isFinite(decoded.value) ? Duration.toMillis(decoded.value) : NaN
  return millis > 0
    ? Either.right(millis)
    : Either.left(new InvalidCircuitBreakerOptions({ field, expected: "a finite duration > 0", actual: String(value) }))
}

/** The connection for announcements: a duplicate of the caller's client, or one of its own; closed with the scope. */
const subscriberFor = (options: Options, connectTimeoutMillis: number): Effect.Effect<Redis, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const created =
        options.client !== undefined
          ? options.client.duplicate()
          : new Redis(options.url ?? "redis://127.0.0.1:6379", {
              lazyConnect: true,
              connectTimeout: connectTimeoutMillis,
              maxRetriesPerRequest: null,
              retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
              ...options.redis
            })
      // Outages are reported by the breaker's commands; without a listener ioredis writes each one to stderr.
      created.on("error", () => undefined)
      return created
    }),
    (subscriber) => Effect.sync(() => subscriber.disconnect())
  )

export const make = (
  breaker: BreakerOptions.Options,
  options: Options
): Effect.Effect<Breaker.Breaker, InvalidCircuitBreakerOptions, Scope.Scope> =>
  Effect.gen(function* () {
    const settings = yield* BreakerOptions.validate(breaker)
    const pollMillis = yield* positiveMillis("pollInterval", options.pollInterval, 1_000)
    const retryMillis = yield* positiveMillis("retryInterval", options.retryInterval, 1_000)
    const marginMillis = Math.ceil(yield* positiveMillis("keyTtl", options.keyTtl, 60_000))
    const connectTimeoutMillis = Duration.toMillis(Duration.decode(options.connectTimeout ?? "1 second"))
    const connection = yield* RedisConnection.make(options)
    const subscriber = yield* subscriberFor(options, connectTimeoutMillis)
    const fleet = yield* Fleet.make(connection, subscriber, {
      prefix: options.prefix ?? "grok-resilience",
      holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
      marginMillis,
      connectTimeoutMillis
    })
    return yield* Shared.make(fleet, { breaker: settings, pollMillis, retryMillis })
  })
