/**
 * The dispatcher: one fiber that, each time it is woken, walks the queue in service order and admits every waiter
 * the concurrency cap, the holds and the store allow, then sets an alarm for the first blocked key.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Engine from "./engine.js"
import * as HeaderGate from "./headerGate.js"
import { settle } from "./feedback.js"
import type * as PriorityQueue from "./priorityQueue.js"
import type { Reserved, StoreGateway } from "./storeGateway.js"

type Entry = PriorityQueue.Entry<Engine.Waiter>

interface Round {
  /** Keys whose first waiter could not go in this round. */
  readonly seen: Set<string>
  wakeAt: number
  now: number
}

/** True once every key that still has a queued waiter has been found blocked in this round. */
const allBlocked = (engine: Engine.Engine, seen: ReadonlySet<string>) => {
  if (seen.size < engine.queuedPerKey.size) return false
  for (const key of engine.queuedPerKey.keys()) if (!seen.has(key)) return false
  return true
}

interface Context {
  readonly engine: Engine.Engine
  readonly gateway: StoreGateway
  readonly scope: Scope.Scope
  alarmAt: number
  /** The waiter a round is deciding on: if the round dies, that waiter fails rather than retrying forever. */
  deciding: Engine.Waiter | undefined
}

/**
 * Wakes the dispatcher at `until` unless an earlier wake-up is already set. Sleeps are whole milliseconds and
 * at least one, so that rounding can never spin the dispatcher at one instant.
 */
const alarm = (ctx: Context, until: number, now: number): Effect.Effect<void> => {
  const delay = Math.max(1, Math.ceil(until - now))
  const at = now + delay
  if (ctx.alarmAt <= at) return Effect.void
  ctx.alarmAt = at
  const ring = Effect.sync(() => {
    if (ctx.alarmAt === at) ctx.alarmAt = Number.POSITIVE_INFINITY
    Engine.signal(ctx.engine)
  })
  return Effect.asVoid(Effect.forkIn(Effect.zipRight(Effect.sleep(delay), ring), ctx.scope))
}

const skip = (round: Round, key: string, until: number) => {
  round.seen.add(key)
  round.wakeAt = Math.min(round.wakeAt, until)
}

/** Hands the waiter its grant, or gives the reservation back when the waiter left while the store answered. */
const admit = (ctx: Context, round: Round, entry: Entry, answer: Reserved, askedAt: number) =>
  Effect.gen(function* () {
    const { engine } = ctx
    const waiter = entry.value
    engine.blocked.delete(waiter.key)
    const following = engine.queue.next(entry)
    if (!Engine.leave(engine, entry)) {
      yield* settle(engine, ctx.gateway, answer.store, waiter.key, -1, -waiter.tokens)
      round.now = yield* Clock.currentTimeMillis
      return engine.queue.peek()
    }
    const grant = Engine.admit(engine, waiter.key, {
      tokens: waiter.tokens,
      admittedAtMillis: askedAt,
      delayed: waiter.delayed || engine.queue.size > 0,
      store: answer.store
    })
    waiter.held.grant = grant
    waiter.resume(Effect.succeed(grant))
    // The entries before it are all of blocked keys: carry on from the next one rather than from the head.
    return following
  })

/** Decides on the first waiter of its key; returns the entry to look at next, or undefined to end the round. */
const decide = (ctx: Context, round: Round, entry: Entry): Effect.Effect<Entry | undefined> =>
  Effect.gen(function* () {
    const { engine } = ctx
    const waiter = entry.value
    const key = waiter.key
    const next = () => (allBlocked(engine, round.seen) ? undefined : engine.queue.next(entry))
    const refused = engine.blocked.get(key)
    if (refused !== undefined && refused.entry === entry && round.now < refused.until) {
      skip(round, key, refused.until)
      return next()
    }
    const state = Engine.stateOf(engine, key)
    if (state.cooling && state.holdUntil <= round.now) {
      state.cooling = false
      yield* Effect.logInfo("RateLimiter: cooldown ended").pipe(Effect.annotateLogs({ key, queued: engine.queue.size }))
    }
    if (state.holdUntil > round.now) {
      waiter.delayed = true
      skip(round, key, state.holdUntil)
      return next()
    }
    const gateOpensAt = state.gate !== undefined ? HeaderGate.openAt(state.gate, state.admitted, round.now) : 0
    if (gateOpensAt > round.now) {
      waiter.delayed = true
      skip(round, key, gateOpensAt)
      return next()
    }
    const limits = Engine.limitsOf(engine, state)
    const request = { key, requests: 1, tokens: waiter.tokens, limits }
    const askedAt = round.now
    // A memory store answers in this step, at this instant; any other store takes time.
    let answer = ctx.gateway.reserveNow(request, askedAt)
    if (answer === undefined) {
      answer = yield* ctx.gateway.reserve(request)
      round.now = yield* Clock.currentTimeMillis
    }
    if (answer === undefined) {
      Engine.rejectKey(engine, key)
      return engine.queue.peek()
    }
    if (answer.reservation.ok) return yield* admit(ctx, round, entry, answer, askedAt)
    waiter.delayed = true
    const until = askedAt + Math.max(1, Math.ceil(answer.reservation.retryAfterMillis))
    engine.blocked.set(key, { entry, until })
    skip(round, key, until)
    if (allBlocked(engine, round.seen)) return undefined
    // The waiter may have left while the store answered: then start over from the head.
    return entry.queued ? engine.queue.next(entry) : engine.queue.peek()
  })

/**
 * Walks the queue in service order. Only the first waiter of each key is considered (a later one never passes
 * it); a key that cannot go is skipped, so the waiters of other keys behind it still go.
 */
const drain = (ctx: Context): Effect.Effect<void> =>
  Effect.gen(function* () {
    const { engine } = ctx
    const round: Round = { seen: new Set(), wakeAt: Number.POSITIVE_INFINITY, now: yield* Clock.currentTimeMillis }
    let entry = engine.queue.peek()
    while (entry !== undefined && engine.inFlight < engine.settings.maxConcurrency) {
      if (round.seen.has(entry.value.key)) {
        entry = engine.queue.next(entry)
        continue
      }
      ctx.deciding = entry.value
      entry = yield* decide(ctx, round, entry)
    }
    ctx.deciding = undefined
    if (round.wakeAt < Number.POSITIVE_INFINITY) yield* alarm(ctx, round.wakeAt, round.now)
  })

/**
 * A round that dies (a bug, or a throw in the limits or the adaptive rate) must not end the dispatcher, or
 * every call would hang: log it, fail the waiter it was deciding on so it is not retried forever, go on.
 */
const roundOf = (ctx: Context) =>
  Effect.catchAllCause(
    Effect.suspend(() => Effect.zipRight(Queue.take(ctx.engine.wake), drain(ctx))),
    (cause) =>
      Effect.suspend(() => {
        if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause)
        const waiter = ctx.deciding
        ctx.deciding = undefined
        if (waiter?.entry !== undefined && Engine.leave(ctx.engine, waiter.entry)) {
          Engine.fail(waiter, "LimiterUnavailable")
          Engine.signal(ctx.engine)
        }
        return Effect.logError("RateLimiter: dispatcher failed", cause)
      })
  )

/** Starts the dispatcher fiber in `scope`. */
export const start = (engine: Engine.Engine, gateway: StoreGateway, scope: Scope.Scope): Effect.Effect<void> => {
  const ctx: Context = { engine, gateway, scope, alarmAt: Number.POSITIVE_INFINITY, deciding: undefined }
  return Effect.asVoid(Effect.forkIn(Effect.forever(roundOf(ctx)), scope))
}
