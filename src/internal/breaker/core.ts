/**
 * The breaker's records and the one way to change them: `step` applies a pure step of `state.ts` to one key under
 * a lock, after timing out an expired probe, fires the key's signal when waiters may now pass (the phase changed,
 * a cold-start slot came free),
 * and publishes, counts and logs every status change.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Scheduler from "effect/Scheduler"
import type * as Scope from "effect/Scope"
import * as Mutex from "../mutex.js"
import * as Metrics from "./metrics.js"
import type * as Options from "./options.js"
import * as Schedule from "./schedule.js"
import * as State from "./state.js"
import type { Transition } from "./types.js"

interface Entry {
  readonly state: State.State
  /** Fired and replaced whenever waiters may pass now (see `State.wakesWaiters`): what they sleep on. */
  readonly changed: Deferred.Deferred<void>
}

export interface Core {
  readonly settings: Options.Settings
  readonly entries: Map<string, Entry>
  /** Not `Effect.Semaphore`: it wakes every waiter on release, O(n²) with thousands of calls at once. */
  readonly lock: Mutex.Mutex
  readonly hub: PubSub.PubSub<Transition>
  /** Told of every change of a key's phase, under the lock (a shared breaker queues what the fleet must learn). */
  readonly observe: Observer | undefined
  /** The key count at which idle keys are dropped next. */
  pruneAt: number
}

/** Sees a key's record before and after a change of epoch; it must not block (it runs under the lock). */
export type Observer = (key: string, from: State.State, to: State.State) => void

export interface Stepped<A> extends State.Step<A> {
  readonly changed: Deferred.Deferred<void>
  readonly now: number
}

/** Past this many keys, idle closed keys (equal to a fresh one) are dropped, so memory follows the active keys. */
const PRUNE_FROM_KEYS = 1_000
/** Slow subscribers of `transitions` lose the oldest transitions past this many. */
const TRANSITION_BUFFER = 1_024

export const make = (settings: Options.Settings, observe?: Observer): Effect.Effect<Core, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lock = Mutex.make()
    const hub = yield* Effect.acquireRelease(PubSub.sliding<Transition>(TRANSITION_BUFFER), PubSub.shutdown)
    return { settings, entries: new Map(), lock, hub, observe, pruneAt: PRUNE_FROM_KEYS }
  })

/** The break a failure in `state` would start now. */
export const breakFor = (core: Core, state: State.State, now: number): Effect.Effect<number> =>
  Schedule.breakMillis(core.settings.breakSchedule, State.nextBreakIndex(state), now)

const logTransition = (transition: Transition): Effect.Effect<void> => {
  const line =
    transition.to === "Open"
      ? Effect.logInfo("CircuitBreaker: opened")
      : transition.to === "Closed"
        ? Effect.logInfo("CircuitBreaker: closed")
        : Effect.logDebug("CircuitBreaker: half-open, probing")
  const { key, from, to, breakMillis } = transition
  return line.pipe(Effect.annotateLogs({ key, from, to, ...(breakMillis !== undefined ? { breakMillis } : {}) }))
}

const announce = (core: Core, key: string, from: State.State, to: State.State, now: number): Effect.Effect<void> => {
  if (from.status === to.status) return Effect.void
  const transition: Transition = {
    key,
    from: from.status,
    to: to.status,
    atMillis: now,
    ...(to.status === "Open" ? { breakMillis: to.breakMillis } : {})
  }
  return Effect.zipRight(
    Effect.all([PubSub.publish(core.hub, transition), Metrics.recordTransition(key, from.status, to.status)]),
    logTransition(transition)
  )
}

const entryFor = (core: Core, key: string, now: number): Effect.Effect<Entry> => {
  const found = core.entries.get(key)
  if (found !== undefined) return Effect.succeed(found)
  if (core.entries.size >= core.pruneAt) {
    for (const [held, entry] of core.entries) {
      if (State.isIdle(entry.state, now, core.settings.machine)) core.entries.delete(held)
    }
    core.pruneAt = Math.max(PRUNE_FROM_KEYS, core.entries.size * 2)
  }
  return Effect.map(Deferred.make<void>(), (changed) => ({ state: State.initial, changed }))
}

/**
 * The known record of `key` when nothing holds the lock, else undefined. What a caller decides from it in the same
 * synchronous step is as atomic as a `step` (no other fiber runs in between), and takes no place in the line.
 */
export const quietState = (core: Core, key: string): State.State | undefined =>
  core.lock.isFree() ? core.entries.get(key)?.state : undefined

/**
 * Applies a change of a known key's counts at once, when nothing holds the lock and `f` gives a record (undefined:
 * it needs a `step`). Only for changes that wake no waiter and announce nothing: the epoch and slots stay.
 */
export const stepQuietly = (core: Core, key: string, f: (state: State.State) => State.State | undefined): boolean => {
  const entry = core.lock.isFree() ? core.entries.get(key) : undefined
  const state = entry === undefined ? undefined : f(entry.state)
  if (state === undefined) return false
  if (state !== entry!.state) core.entries.set(key, { state, changed: entry!.changed })
  return true
}

/** Applies `f` to the key's record under the lock, after timing out an expired probe. */
export const step = <A>(
  core: Core,
  key: string,
  f: (state: State.State, now: number) => Effect.Effect<State.Step<A>>
): Effect.Effect<Stepped<A>> =>
  core.lock.withLock(
    // On the default scheduler: a call's time slice must not end inside the lock, or every other call of the
    // process queues behind a holder parked until a later turn, and then each handover waits for a turn too.
    Effect.withScheduler(Scheduler.defaultScheduler)(
      Effect.gen(function* () {
        const machine = core.settings.machine
        const now = yield* Clock.currentTimeMillis
        const entry = yield* entryFor(core, key, now)
        const before = entry.state
        const current = State.probeExpired(before, now, machine)
          ? State.expire(before, now, machine, yield* breakFor(core, before, now))
          : before
        const { state, result } = yield* f(current, now)
        let changed = entry.changed
        if (State.wakesWaiters(before, state)) {
          changed = yield* Deferred.make<void>()
          yield* Deferred.succeed(entry.changed, undefined)
        }
        core.entries.set(key, { state, changed })
        if (core.observe !== undefined) {
          if (current.epoch !== before.epoch) core.observe(key, before, current)
          if (state.epoch !== current.epoch) core.observe(key, current, state)
        }
        yield* announce(core, key, before, current, now)
        yield* announce(core, key, current, state, now)
        return { state, result, changed, now }
      })
    )
  )
