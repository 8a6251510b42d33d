/**
 * Every call the limiter makes to its store, and the one place that decides what happens when the store fails.
 * In `"fallback"` mode the store is wrapped in the failover (a local memory store at the share the store names,
 * probed back to the shared one); in `"reject"` mode a failed reservation fails the key's waiters with
 * `LimiterUnavailable`. Settles and holds that the store cannot take are logged at Debug and dropped.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as RateLimiterStore from "../../RateLimiterStore.js"
import type * as LimiterOptions from "../limiterOptions.js"
import * as Failover from "./failover.js"
import * as SyncStore from "./syncStore.js"

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
  /** The reservation at `now` in this step, or undefined when the store answers only through its effects. */
  readonly reserveNow: (request: RateLimiterStore.ReserveRequest, now: number) => Reserved | undefined
  /** Settles at `now` in this step; false when the store answers only through its effects. */
  readonly settleNow: (
    target: RateLimiterStore.Service,
    request: RateLimiterStore.SettleRequest,
    now: number
  ) => boolean
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

/** A probe for a store that names none: an empty reservation, which changes no budget. */
const emptyReservation = (store: RateLimiterStore.Service) =>
  Effect.suspend(() => Effect.asVoid(store.reserve({ key: "probe", requests: 0, tokens: 0, limits: {} })))

/** The store as the limiter uses it: behind the failover in `"fallback"` mode, as it is in `"reject"` mode. */
export const guarded = (
  onStoreError: LimiterOptions.Settings["onStoreError"],
  store: RateLimiterStore.Service
): Effect.Effect<RateLimiterStore.Service, never, Scope.Scope> => {
  // A store that answers synchronously never fails: there is nothing to fail over from.
  if (onStoreError === "reject" || SyncStore.of(store) !== undefined) return Effect.succeed(store)
  const failover = store.failover
  // A store that dies (a bug, a throw) fails over like one that fails.
  const primary: RateLimiterStore.Service = {
    reserve: (request) => storeCall("reserve", () => store.reserve(request)),
    settle: (request) => storeCall("settle", () => store.settle(request)),
    hold: (request) => storeCall("hold", () => store.hold(request))
  }
  return Failover.make({
    primary,
    localShare: failover?.localShare ?? 1,
    probe: failover?.probe ?? emptyReservation(primary),
    ...(failover?.probeInterval !== undefined ? { probeInterval: failover.probeInterval } : {}),
    name: failover?.name ?? "the limiter store"
  })
}

export const make = (
  settings: LimiterOptions.Settings,
  configured: RateLimiterStore.Service
): Effect.Effect<StoreGateway, never, Scope.Scope> =>
  Effect.map(guarded(settings.onStoreError, configured), (store) => makeOver(store))

const makeOver = (store: RateLimiterStore.Service): StoreGateway => {
  let storeDown = false

  const reserve = (request: RateLimiterStore.ReserveRequest) =>
    storeCall("reserve", () => store.reserve(request)).pipe(
      Effect.map((reservation): Reserved | undefined => {
        storeDown = false
        return { reservation, store }
      }),
      Effect.catchAll((error) =>
        Effect.suspend(() => {
          if (storeDown) return Effect.succeed(undefined)
          storeDown = true
          const logged = Effect.logWarning(`RateLimiter: ${error.message}; rejecting calls until it answers again`)
          return Effect.as(logged, undefined)
        })
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

  const sync = SyncStore.of(store)
  const reserveNow = (request: RateLimiterStore.ReserveRequest, now: number): Reserved | undefined => {
    if (sync === undefined) return undefined
    return { reservation: sync.reserve(request, now), store }
  }

  const settleNow = (target: RateLimiterStore.Service, request: RateLimiterStore.SettleRequest, now: number) => {
    const targetSync = target === store ? sync : SyncStore.of(target)
    if (targetSync === undefined) return false
    targetSync.settle(request, now)
    return true
  }

  return { reserve, settle, hold, reserveNow, settleNow }
}
