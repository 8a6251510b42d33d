/**
 * Every call the limiter makes to its store, and the one place that decides what happens when the store fails:
 * in `"fallback"` mode the attempt is paced by a local memory store (the Redis store's failover, when used, has
 * already scaled that to this process's share), in `"reject"` mode the key's waiters fail with
 * `LimiterUnavailable`. Settles and holds that the store cannot take are kept local and logged at Debug.
 */
import * as Effect from "effect/Effect"
import * as MemoryStore from "../../MemoryStore.js"
import * as RateLimiterStore from "../../RateLimiterStore.js"
import type * as LimiterOptions from "../limiterOptions.js"

export interface Reserved {
  readonly reservation: RateLimiterStore.Reservation
  /** The store that took it, to settle with later. */
  readonly store: RateLimiterStore.Service
}

export interface StoreGateway {
  /** Undefined when the store failed and the limiter rejects rather than falls back. */
  readonly reserve: (request: RateLimiterStore.ReserveRequest) => Effect.Effect<Reserved | undefined>
  readonly settle: (target: RateLimiterStore.Service, request: RateLimiterStore.SettleRequest) => Effect.Effect<void>
  readonly hold: (request: RateLimiterStore.HoldRequest) => Effect.Effect<void>
}

/** Runs one store operation, turning a defect of the store (a bug, a throw) into its typed error. */
const storeCall = <A>(
  operation: RateLimiterStore.RateLimiterStoreError["operation"],
  call: () => Effect.Effect<A, RateLimiterStore.RateLimiterStoreError>
): Effect.Effect<A, RateLimiterStore.RateLimiterStoreError> =>
  Effect.catchAllDefect(Effect.suspend(call), (defect) =>
    Effect.fail(
      new RateLimiterStore.RateLimiterStoreError({
        operation,
        detail: `it died: ${defect instanceof Error ? defect.message : String(defect)}`,
        cause: defect
      })
    )
  )

export const make = (settings: LimiterOptions.Settings, store: RateLimiterStore.Service): StoreGateway => {
  const fallback = MemoryStore.fromCore(MemoryStore.makeCore())
  let storeDown = false

  const storeFailed = (error: RateLimiterStore.RateLimiterStoreError) =>
    Effect.suspend(() => {
      if (storeDown) return Effect.void
      storeDown = true
      const next = settings.onStoreError === "fallback" ? "pacing this process alone" : "rejecting calls"
      return Effect.logWarning(`RateLimiter: ${error.message}; ${next} until it answers again`)
    })

  const reserve = (request: RateLimiterStore.ReserveRequest) =>
    storeCall("reserve", () => store.reserve(request)).pipe(
      Effect.map((reservation): Reserved | undefined => {
        storeDown = false
        return { reservation, store }
      }),
      Effect.catchAll((error) =>
        Effect.zipRight(
          storeFailed(error),
          settings.onStoreError === "reject"
            ? Effect.succeed(undefined)
            : Effect.map(Effect.orDie(fallback.reserve(request)), (reservation) => ({ reservation, store: fallback }))
        )
      )
    )

  const settle = (target: RateLimiterStore.Service, request: RateLimiterStore.SettleRequest) =>
    storeCall("settle", () => target.settle(request)).pipe(
      Effect.catchAll((error) => Effect.logDebug(`RateLimiter: settle lost: ${error.message}`))
    )

  const hold = (request: RateLimiterStore.HoldRequest) =>
    storeCall("hold", () => store.hold(request)).pipe(
      Effect.catchAll((error) => Effect.logDebug(`RateLimiter: hold kept local: ${error.message}`))
    )

  return { reserve, settle, hold }
}
