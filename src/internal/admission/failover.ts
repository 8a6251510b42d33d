/**
 * Fail open with a share of the quota: a `RateLimiterStore` that answers from a shared store (Redis) while it
 * works, and from a local memory store holding `localShare` of every limit while it does not.
 *
 * The first failure switches to the local store and logs one warning; from then on no call waits for the shared
 * store: a background probe asks it again every `probeInterval` and, when it answers, switches back and logs one
 * line. A settle or hold follows the store in use when it is made.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as MemoryStore from "../../MemoryStore.js"
import type * as RateLimiterStore from "../../RateLimiterStore.js"

export interface Options {
  /** The shared store. */
  readonly primary: RateLimiterStore.Service
  /**
   * The share of each limit this process takes while the shared store is down, in (0, 1]: `1 / workers` keeps the
   * workers together within the quota. Read at the moment of the outage, so it may change (an effect).
   */
  readonly localShare: number | Effect.Effect<number>
  /** Succeeds when the shared store answers again. */
  readonly probe: Effect.Effect<void, unknown>
  /** Time between two probes during an outage. Default 1 second. */
  readonly probeInterval?: Duration.DurationInput
  /** The name of the shared store in log lines. Default `"Redis"`. */
  readonly name?: string
}

/**
 * A store that is always up, whatever the shared store does, and says whether it currently answers locally.
 */
export interface FailoverStore extends RateLimiterStore.Service {
  /** True while the shared store is down and the local share paces this process. */
  readonly local: Effect.Effect<boolean>
}

const scale = (gcra: RateLimiterStore.Gcra | undefined, share: number): RateLimiterStore.Gcra | undefined =>
  gcra === undefined
    ? undefined
    : { intervalMillis: gcra.intervalMillis / share, burst: Math.max(1, gcra.burst * share) }

/**
 * The limits a process keeps when it holds `share` of them: intervals stretched by `1 / share`, bursts shrunk to
 * `share` of themselves (at least 1).
 */
export const scaleLimits = (limits: RateLimiterStore.Limits, share: number): RateLimiterStore.Limits => {
  const requests = scale(limits.requests, share)
  const tokens = scale(limits.tokens, share)
  return { ...(requests !== undefined ? { requests } : {}), ...(tokens !== undefined ? { tokens } : {}) }
}

const percent = (share: number): string => `${Math.round(share * 1000) / 10}%`

/**
 * Wraps a shared store so that its failures never reach the limiter. The probe runs in the current scope.
 */
export const make = (options: Options): Effect.Effect<FailoverStore, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const local = MemoryStore.fromCore(MemoryStore.makeCore())
    const probeInterval = Duration.decode(options.probeInterval ?? "1 second")
    const name = options.name ?? "Redis"
    const shareNow: Effect.Effect<number> =
      typeof options.localShare === "number" ? Effect.succeed(options.localShare) : options.localShare
    let down = false
    let share = 1

    const recover: Effect.Effect<void> = Effect.gen(function* () {
      while (true) {
        yield* Effect.sleep(probeInterval)
        const answered = yield* Effect.isSuccess(options.probe)
        if (answered) break
      }
      down = false
      yield* Effect.logInfo(`${name} answers again: back to the shared quota`)
    })

    const fail = (error: RateLimiterStore.RateLimiterStoreError): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (down) return Effect.void
        down = true
        return Effect.gen(function* () {
          const raw = yield* shareNow
          share = Number.isFinite(raw) && raw > 0 ? Math.min(1, raw) : 1
          yield* Effect.logWarning(
            `${name} unavailable (${error.detail}): limiting locally at ${percent(share)} of the quota`
          )
          yield* Effect.forkIn(recover, scope)
        })
      })

    /** Runs on the shared store while it is up; on its failure (or while it is down) on the local share. */
    const route = <A>(
      shared: Effect.Effect<A, RateLimiterStore.RateLimiterStoreError>,
      fallback: (share: number) => Effect.Effect<A, RateLimiterStore.RateLimiterStoreError>
    ): Effect.Effect<A> =>
      Effect.suspend(() => {
        const onLocal = Effect.suspend(() => Effect.orDie(fallback(share)))
        if (down) return onLocal
        return Effect.catchAll(shared, (error) => Effect.zipRight(fail(error), onLocal))
      })

    return {
      reserve: (request) =>
        route(options.primary.reserve(request), (share) =>
          local.reserve({ ...request, limits: scaleLimits(request.limits, share) })
        ),
      settle: (request) =>
        route(options.primary.settle(request), (share) =>
          local.settle({ ...request, limits: scaleLimits(request.limits, share) })
        ),
      hold: (request) => route(options.primary.hold(request), () => local.hold(request)),
      local: Effect.sync(() => down)
    }
  })
