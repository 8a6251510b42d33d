/**
 * The in-process `RateLimiterStore`: GCRA on requests and tokens per key, plus the shared cooldown, in a `Map`.
 * Its clock is Effect's `Clock`, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SyncStore from "./internal/admission/syncStore.js"
import * as RateLimiterStore from "./RateLimiterStore.js"

/** Waits below this many milliseconds are rounding noise of `tat + n·I − B·I`, not a real wait. */
const EPSILON = 1e-6

interface KeyState {
  requestsTat: number
  tokensTat: number
  holdUntil: number
}

/** When a dimension would admit `cost` units: `max(tat, now) + cost·I − max(B, cost)·I`. */
const allowAt = (tat: number, now: number, cost: number, gcra: RateLimiterStore.Gcra | undefined): number =>
  gcra === undefined || cost <= 0
    ? now
    : Math.max(tat, now) + cost * gcra.intervalMillis - Math.max(gcra.burst, cost) * gcra.intervalMillis

const take = (tat: number, now: number, cost: number, gcra: RateLimiterStore.Gcra | undefined): number =>
  gcra === undefined || cost <= 0 ? tat : Math.max(tat, now) + cost * gcra.intervalMillis

const adjust = (tat: number, now: number, delta: number, gcra: RateLimiterStore.Gcra | undefined): number => {
  if (gcra === undefined || delta === 0) return tat
  if (delta > 0) return Math.max(tat, now) + delta * gcra.intervalMillis
  return Math.max(now, tat + delta * gcra.intervalMillis)
}

/**
 * The pure core of the memory store, exposed so that other stores can be checked against it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Core {
  readonly reserve: (request: RateLimiterStore.ReserveRequest, now: number) => RateLimiterStore.Reservation
  readonly settle: (request: RateLimiterStore.SettleRequest, now: number) => void
  readonly hold: (request: RateLimiterStore.HoldRequest, now: number) => number
}

/** Cores made here: they never throw, so the limiter may call them in its own step (`syncStore.ts`). */
const ownCores = new WeakSet<Core>()

/**
 * Creates the synchronous state machine that `make` wraps: a fresh, empty budget for every key.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeCore = (): Core => {
  const core = newCore()
  ownCores.add(core)
  return core
}

const newCore = (): Core => {
  const keys = new Map<string, KeyState>()
  const stateOf = (key: string): KeyState => {
    let state = keys.get(key)
    if (state === undefined) {
      state = { requestsTat: Number.NEGATIVE_INFINITY, tokensTat: Number.NEGATIVE_INFINITY, holdUntil: 0 }
      keys.set(key, state)
    }
    return state
  }
  return {
    reserve: ({ key, limits, requests, tokens }, now) => {
      const state = stateOf(key)
      const wait = Math.max(
        state.holdUntil - now,
        allowAt(state.requestsTat, now, requests, limits.requests) - now,
        allowAt(state.tokensTat, now, tokens, limits.tokens) - now
      )
      if (wait > EPSILON) return { ok: false, retryAfterMillis: wait }
      state.requestsTat = take(state.requestsTat, now, requests, limits.requests)
      state.tokensTat = take(state.tokensTat, now, tokens, limits.tokens)
      return { ok: true }
    },
    settle: ({ key, limits, requests, tokens }, now) => {
      const state = stateOf(key)
      state.requestsTat = adjust(state.requestsTat, now, requests, limits.requests)
      state.tokensTat = adjust(state.tokensTat, now, tokens, limits.tokens)
    },
    hold: ({ key, millis }, now) => {
      const state = stateOf(key)
      state.holdUntil = Math.max(state.holdUntil, now + Math.max(0, millis))
      return state.holdUntil
    }
  }
}

/**
 * Wraps a `Core` as a store whose clock is Effect's `Clock`. It never fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromCore = (core: Core): RateLimiterStore.Service => {
  const store: RateLimiterStore.Service = {
    reserve: (request) => Effect.map(Clock.currentTimeMillis, (now) => core.reserve(request, now)),
    settle: (request) => Effect.map(Clock.currentTimeMillis, (now) => core.settle(request, now)),
    hold: (request) => Effect.map(Clock.currentTimeMillis, (now) => core.hold(request, now))
  }
  // A core of someone else's may throw: its store keeps to effects, where the limiter catches that.
  return ownCores.has(core) ? SyncStore.register(store, core) : store
}

/**
 * A fresh memory store. Budgets live as long as the store value: share one value to share budgets.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MemoryStore, RateLimiter } from "grok-resilience"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* MemoryStore.make
 *   return RateLimiter.layer({ requestsPerSecond: 5, store })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<RateLimiterStore.Service> = Effect.sync(() => fromCore(makeCore()))

/**
 * Provides a fresh memory store as the `RateLimiterStore`, for `RateLimiter.layerStore`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RateLimiterStore.RateLimiterStore> = Layer.effect(
  RateLimiterStore.RateLimiterStore,
  make
)
