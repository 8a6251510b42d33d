/**
 * An in-memory `Fleet` for unit tests of the shared breaker on TestClock: the rules of the Redis scripts
 * (src/internal/redis/breakerScripts.ts) over a map, on the Effect clock plus a skew (the store's clock need not
 * be a process's), with announcements on a PubSub. Every call is counted, and the store can be made to fail.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Stream from "effect/Stream"
import type * as Fleet from "../../src/internal/breaker/fleet.js"

interface Stored {
  gen: number
  status: "Open" | "Closed"
  untilMillis: number
  step: number
  breakMillis: number
}

export interface MemoryStore {
  /** Every fleet call, as `holder:operation`. */
  readonly calls: Array<string>
  readonly records: Map<string, Stored>
  /** While true every call fails, as a Redis that does not answer. */
  down: boolean
  /** While true announcements are dropped, as a subscription that is reconnecting. */
  mute: boolean
  readonly fleetFor: (holder: string) => Fleet.Fleet
}

export const make = (skewMillis = 0): Effect.Effect<MemoryStore> =>
  Effect.gen(function* () {
    const hub = yield* PubSub.unbounded<{ readonly origin: string; readonly event: Fleet.FleetEvent }>()
    const records = new Map<string, Stored>()
    const leases = new Map<string, { readonly holder: string; readonly untilMillis: number }>()
    const now = Effect.map(Clock.currentTimeMillis, (millis) => millis + skewMillis)
    const view = (stored: Stored | undefined, at: number): Fleet.FleetRecord =>
      stored === undefined
        ? { gen: 0, status: "Closed", remainingMillis: -at, step: 0, breakMillis: 0 }
        : { ...stored, remainingMillis: stored.untilMillis - at }
    const leaseLeft = (key: string, at: number) => Math.max(0, (leases.get(key)?.untilMillis ?? 0) - at)

    const fleetFor = (holder: string): Fleet.Fleet => {
      const op = <A>(name: string, f: (at: number) => Effect.Effect<A>): Effect.Effect<A, Fleet.FleetError> =>
        Effect.suspend(() => {
          store.calls.push(`${holder}:${name}`)
          if (store.down) return Effect.fail({ detail: "connection refused" })
          return Effect.flatMap(now, f)
        })
      const announce = (key: string, record: Fleet.FleetRecord, released: boolean) =>
        store.mute
          ? Effect.void
          : Effect.asVoid(PubSub.publish(hub, { origin: holder, event: { key, record, released } }))
      const write = (key: string, next: Omit<Stored, "gen">, at: number) => {
        const stored = { ...next, gen: Math.max((records.get(key)?.gen ?? 0) + 1, at) }
        records.set(key, stored)
        leases.delete(key)
        return Effect.as(announce(key, view(stored, at), false), view(stored, at))
      }
      return {
        open: (key, request) =>
          op("open", (at) => {
            const stored = records.get(key)
            if (stored !== undefined && !request.reopen && stored.status === "Open")
              return Effect.succeed(view(stored, at))
            if (stored !== undefined && request.reopen && stored.gen !== request.baseGen) {
              return Effect.succeed(view(stored, at))
            }
            const breakMillis = Math.ceil(request.breakMillis)
            return write(key, { status: "Open", untilMillis: at + breakMillis, step: request.step, breakMillis }, at)
          }),
        close: (key) =>
          op("close", (at) => {
            const stored = records.get(key)
            if (stored?.status !== "Open") return Effect.succeed(view(stored, at))
            return write(key, { status: "Closed", untilMillis: at, step: 0, breakMillis: 0 }, at)
          }),
        claim: (key, leaseMillis) =>
          op("claim", (at): Effect.Effect<Fleet.Claim> => {
            const stored = records.get(key)
            const record = view(stored, at)
            if (stored?.status === "Closed") return Effect.succeed({ _tag: "Closed", record })
            if (stored !== undefined && stored.untilMillis > at) return Effect.succeed({ _tag: "Wait", record })
            if (leaseLeft(key, at) > 0) return Effect.succeed({ _tag: "Busy", record, leaseMillis: leaseLeft(key, at) })
            leases.set(key, { holder, untilMillis: at + Math.ceil(leaseMillis) })
            return Effect.succeed({ _tag: "Probe", record: stored === undefined ? undefined : record })
          }),
        release: (key) =>
          op("release", (at) => {
            if (leaseLeft(key, at) === 0 || leases.get(key)?.holder !== holder) return Effect.void
            leases.delete(key)
            return announce(key, view(records.get(key), at), true)
          }),
        peek: (key) =>
          op("peek", (at) => {
            const stored = records.get(key)
            return Effect.succeed({
              record: stored === undefined ? undefined : view(stored, at),
              leaseMillis: leaseLeft(key, at)
            })
          }),
        events: Stream.fromPubSub(hub).pipe(
          Stream.filter((message) => message.origin !== holder),
          Stream.map((message) => message.event)
        )
      }
    }
    const store: MemoryStore = { calls: [], records, down: false, mute: false, fleetFor }
    return store
  })
