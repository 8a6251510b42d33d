/**
 * The admission engine behind `RateLimiter.layer`: builds the shared state, the store gateway and the dispatcher,
 * and implements `acquire` (queue, shed, wait, expire, cancel) and the release of permits.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { Rejected } from "../../GrokError.js"
import type * as RateLimiterStore from "../../RateLimiterStore.js"
import type * as LimiterOptions from "../limiterOptions.js"
import { type Permit, rankOf, type Service, type Snapshot, type Ticket } from "./contract.js"
import * as Dispatcher from "./dispatcher.js"
import * as Engine from "./engine.js"
import { report, settle } from "./feedback.js"
import * as StoreGateway from "./storeGateway.js"

interface Parts {
  readonly engine: Engine.Engine
  readonly gateway: StoreGateway.StoreGateway
}

/** Frees the slot of a grant; an attempt that was never reported gives back its tokens. */
const release = ({ engine, gateway }: Parts, grant: Engine.Grant, sent: boolean) =>
  Effect.suspend(() => {
    if (grant.released) return Effect.void
    grant.released = true
    engine.inFlight--
    Engine.signal(engine)
    if (grant.reported) return Effect.void
    return settle(engine, gateway, grant.store, grant.key, sent ? 0 : -1, -grant.tokens)
  })

const expire = ({ engine }: Parts, waiter: Engine.Waiter, millis: number): Effect.Effect<never, Rejected> =>
  Effect.zipRight(
    Effect.sleep(millis),
    Effect.suspend(() => {
      if (waiter.entry === undefined || !Engine.leave(engine, waiter.entry)) return Effect.never
      Engine.signal(engine)
      return Effect.fail(new Rejected({ reason: "DeadlineExceeded" }))
    })
  )

/** Undoes a wait that ended without a permit: leave the queue, or return a grant that raced in. */
const cancel = (parts: Parts, waiter: Engine.Waiter) =>
  Effect.suspend(() => {
    if (waiter.entry !== undefined && Engine.leave(parts.engine, waiter.entry)) {
      Engine.signal(parts.engine)
      return Effect.void
    }
    return waiter.grant !== undefined ? release(parts, waiter.grant, false) : Effect.void
  })

/** Makes room in a full queue by shedding the lowest priority, or refuses the newcomer if it is the lowest. */
const shed = ({ engine }: Parts, ticket: Ticket, rank: number): Effect.Effect<void, Rejected> =>
  Effect.suspend(() => {
    const { maxQueued } = engine.settings
    if (engine.queue.size < maxQueued) return Effect.void
    const lowest = engine.queue.lowestRank()
    const logged = Effect.logInfo("RateLimiter: queue full, shedding the lowest priority").pipe(
      Effect.annotateLogs({ queued: engine.queue.size, maxQueued, priority: ticket.priority })
    )
    if (lowest === undefined || lowest <= rank)
      return Effect.zipRight(logged, Effect.fail(new Rejected({ reason: "QueueFull" })))
    const victim = Engine.popLowest(engine)
    if (victim !== undefined) Engine.fail(victim.value, "QueueFull")
    return logged
  })

const maxWaitOf = (settings: LimiterOptions.Settings, ticket: Ticket): number | undefined => {
  const ticketWait = ticket.maxQueueWait !== undefined ? Duration.toMillis(ticket.maxQueueWait) : undefined
  if (ticketWait === undefined) return settings.defaultMaxQueueWaitMillis
  return isFinite(ticketWait) ? ticketWait : undefined
}

const acquire =
  (parts: Parts) =>
  (ticket: Ticket): Effect.Effect<Permit, Rejected, Scope.Scope> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const { engine } = parts
        const rank = rankOf(ticket.priority)
        yield* shed(parts, ticket, rank)
        const estimate = ticket.estimatedTokens
        const waiter: Engine.Waiter = {
          key: Engine.keyOf(engine, ticket),
          tokens: Number.isFinite(estimate) && estimate > 0 ? Math.ceil(estimate) : 0,
          deferred: yield* Deferred.make<Engine.Grant, Rejected>(),
          entry: undefined,
          grant: undefined,
          delayed: false
        }
        waiter.entry = Engine.enqueue(engine, waiter, rank)
        Engine.signal(engine)
        const maxWait = maxWaitOf(engine.settings, ticket)
        const admitted = Deferred.await(waiter.deferred)
        const exit = yield* Effect.exit(
          restore(maxWait === undefined ? admitted : Effect.raceFirst(admitted, expire(parts, waiter, maxWait)))
        )
        if (Exit.isFailure(exit)) {
          yield* cancel(parts, waiter)
          return yield* Effect.failCause(exit.cause)
        }
        const grant = exit.value
        yield* Effect.addFinalizer(() => release(parts, grant, true))
        return { report: report(engine, parts.gateway, grant) }
      })
    )

const snapshot = (engine: Engine.Engine): Effect.Effect<Snapshot> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    let holdUntilMillis = 0
    const rates: Record<string, number> = {}
    for (const [key, state] of engine.keys) {
      if (state.holdUntil > now) holdUntilMillis = Math.max(holdUntilMillis, state.holdUntil)
      if (state.adaptive !== undefined) rates[key] = state.adaptive.rate
    }
    const adaptive = engine.settings.adaptive ? { rates } : {}
    return { queued: engine.queue.size, inFlight: engine.inFlight, holdUntilMillis, ...adaptive }
  })

/** Starts the admission engine of one limiter in the current scope. */
export const make = (
  settings: LimiterOptions.Settings,
  store: RateLimiterStore.Service
): Effect.Effect<Service, never, Scope.Scope> =>
  Effect.gen(function* () {
    const engine = yield* Engine.make(settings)
    const gateway = yield* StoreGateway.make(settings, store)
    yield* Dispatcher.start(engine, gateway, yield* Effect.scope)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (let entry = Engine.popLowest(engine); entry !== undefined; entry = Engine.popLowest(engine)) {
          Engine.fail(entry.value, "LimiterUnavailable")
        }
      })
    )
    return { acquire: acquire({ engine, gateway }), snapshot: snapshot(engine) }
  })
