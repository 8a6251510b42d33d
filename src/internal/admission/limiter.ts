/**
 * The admission engine behind `RateLimiter.layer`: builds the shared state, the store gateway and the dispatcher,
 * and implements `acquire` (queue, shed, wait, expire, cancel) and the release of permits.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import { Rejected } from "../../GrokError.js"
import type * as RateLimiterStore from "../../RateLimiterStore.js"
import type * as LimiterOptions from "../limiterOptions.js"
import { type Permit, rankOf, type Service, type Snapshot, type Ticket } from "./contract.js"
import * as Dispatcher from "./dispatcher.js"
import * as Engine from "./engine.js"
import { report, settleAt } from "./feedback.js"
import * as FiberClock from "../fiberClock.js"
import * as HeaderGate from "./headerGate.js"
import * as Snapshots from "./snapshots.js"
import * as StoreGateway from "./storeGateway.js"
import * as Unscoped from "./unscoped.js"

interface Parts {
  readonly engine: Engine.Engine
  readonly gateway: StoreGateway.StoreGateway
}

/** Frees the slot of a grant; an attempt that was never reported gives back its tokens. */
const release = ({ engine, gateway }: Parts, grant: Engine.Grant, sent: boolean) =>
  Effect.withFiberRuntime<void>((fiber) => {
    if (grant.released) return Effect.void
    grant.released = true
    engine.inFlight--
    Engine.signal(engine)
    if (grant.reported) return Effect.void
    const move = { key: grant.key, requests: sent ? 0 : -1, tokens: -grant.tokens }
    return settleAt(engine, gateway, grant.store, move, FiberClock.millisOf(fiber))
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
    return waiter.held.grant !== undefined ? release(parts, waiter.held.grant, false) : Effect.void
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

/** The tokens an attempt reserves: its estimate in whole tokens, none for an estimate that is not one. */
const tokensOf = (ticket: Ticket): number => {
  const estimate = ticket.estimatedTokens
  return Number.isFinite(estimate) && estimate > 0 ? Math.ceil(estimate) : 0
}

/**
 * Queues the attempt until the dispatcher grants or rejects it, the queue wait ends, or it is interrupted (then
 * it leaves the queue, or returns a grant that raced in). A waiting caller holds only its fiber suspended on one
 * callback: no `Deferred`, no generator, no other fiber unless it has a queue wait.
 */
const wait = (parts: Parts, ticket: Ticket, held: Engine.Held): Effect.Effect<Engine.Grant, Rejected> => {
  const { engine } = parts
  const rank = rankOf(ticket.priority)
  const waiter: Engine.Waiter = {
    key: Engine.keyOf(engine, ticket),
    tokens: tokensOf(ticket),
    resume: unqueued,
    entry: undefined,
    held,
    delayed: false
  }
  const queued = Effect.async<Engine.Grant, Rejected>((resume) => {
    waiter.resume = resume
    waiter.entry = Engine.enqueue(engine, waiter, rank)
    Engine.signal(engine)
    return cancel(parts, waiter)
  })
  const maxWait = maxWaitOf(engine.settings, ticket)
  const bounded = maxWait === undefined ? queued : Effect.raceFirst(queued, expire(parts, waiter, maxWait))
  return Effect.zipRight(shed(parts, ticket, rank), bounded)
}

/** A waiter's `resume` until it is queued: nothing can end a wait that has not begun. */
const unqueued = (): void => {}

/**
 * Admits at once when nobody waits and the key has room in a store that answers synchronously (the memory
 * store): one step, no `Deferred`, no dispatcher round. Undefined sends the attempt to the queue.
 */
const admitNow = ({ engine, gateway }: Parts, ticket: Ticket, now: number): Engine.Grant | undefined => {
  if (engine.queue.size > 0 || engine.inFlight >= engine.settings.maxConcurrency) return undefined
  const key = Engine.keyOf(engine, ticket)
  const state = Engine.stateOf(engine, key)
  // A cooldown that has ended is still logged by the dispatcher.
  if (state.cooling || state.holdUntil > now) return undefined
  if (state.gate !== undefined && HeaderGate.openAt(state.gate, state.admitted, now) > now) return undefined
  const tokens = tokensOf(ticket)
  const answer = gateway.reserveNow({ key, requests: 1, tokens, limits: Engine.limitsOf(engine, state) }, now)
  if (answer === undefined || !answer.reservation.ok) return undefined
  return Engine.admit(engine, key, { tokens, admittedAtMillis: now, delayed: false, store: answer.store })
}

/** One attempt's admission: at once or after a wait, the grant kept in a holder the moment it is made. */
const admission = (parts: Parts, ticket: Ticket): Unscoped.Admission => {
  const holder: Engine.Held = { grant: undefined }
  const permitOf = (grant: Engine.Grant): Permit => ({ report: report(parts.engine, parts.gateway, grant) })
  return {
    acquire: Effect.withFiberRuntime((fiber) => {
      holder.grant = admitNow(parts, ticket, FiberClock.millisOf(fiber))
      if (holder.grant !== undefined) return Effect.succeed(permitOf(holder.grant))
      return Effect.map(wait(parts, ticket, holder), permitOf)
    }),
    // A grant is released once, whoever asks.
    release: Effect.suspend(() => (holder.grant === undefined ? Effect.void : release(parts, holder.grant, true)))
  }
}

/**
 * The finalizer is in the scope before any grant exists, so that no interruption can fall between taking a
 * grant and arranging its release.
 */
const acquire =
  (parts: Parts) =>
  (ticket: Ticket): Effect.Effect<Permit, Rejected, Scope.Scope> =>
    Effect.withFiberRuntime((fiber) => {
      const attempt = admission(parts, ticket)
      const scope = Context.unsafeGet(fiber.currentContext, Scope.Scope)
      return Effect.zipRight(Scope.addFinalizer(scope, attempt.release), attempt.acquire)
    })

const snapshotAt = (engine: Engine.Engine, now: number): Snapshot => {
  let holdUntilMillis = 0
  const rates: Record<string, number> = {}
  for (const [key, state] of engine.keys) {
    if (state.holdUntil > now) holdUntilMillis = Math.max(holdUntilMillis, state.holdUntil)
    if (state.adaptive !== undefined) rates[key] = state.adaptive.rate
  }
  const adaptive = engine.settings.adaptive ? { rates } : {}
  return { queued: engine.queue.size, inFlight: engine.inFlight, holdUntilMillis, ...adaptive }
}

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
    const parts: Parts = { engine, gateway }
    const service: Service = {
      acquire: acquire(parts),
      snapshot: Effect.map(Clock.currentTimeMillis, (now) => snapshotAt(engine, now))
    }
    Unscoped.register(service, (ticket) => admission(parts, ticket))
    return Snapshots.register(service, (now) => snapshotAt(engine, now))
  })
