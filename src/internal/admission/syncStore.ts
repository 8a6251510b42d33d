/**
 * Stores that answer in the caller's step. The memory store's budget is a plain `Map`, so the limiter may reserve
 * and settle on it without running an effect: an admission with room then costs no fiber, no `Deferred`, no
 * store effect. Found by the store's identity, so that the public `RateLimiterStore` interface stays as it is.
 */
import type * as RateLimiterStore from "../../RateLimiterStore.js"

/** The synchronous face of a store; its answers are those its effects would give at the same `now`. */
export interface SyncStore {
  readonly reserve: (request: RateLimiterStore.ReserveRequest, now: number) => RateLimiterStore.Reservation
  readonly settle: (request: RateLimiterStore.SettleRequest, now: number) => void
}

const registered = new WeakMap<RateLimiterStore.Service, SyncStore>()

/** Marks `store` as answering synchronously through `sync`; only for stores that can neither fail nor die. */
export const register = (store: RateLimiterStore.Service, sync: SyncStore): RateLimiterStore.Service => {
  registered.set(store, sync)
  return store
}

/** The synchronous face of `store`, if it has one. */
export const of = (store: RateLimiterStore.Service): SyncStore | undefined => registered.get(store)
