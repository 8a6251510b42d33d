/**
 * The circuit breaker service: one `State` record per key, moved by the pure steps of `state.ts` under one lock,
 * waiters parked on a per-key signal that is replaced (and fired) whenever the phase changes, and every status
 * change published, counted and logged.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { CircuitOpenError } from "./errors.js"
import * as Metrics from "./metrics.js"
import type * as Options from "./options.js"
import * as Schedule from "./schedule.js"
import * as State from "./state.js"
import type { AdmitOptions, Pass, Service, Transition } from "./types.js"

interface Entry {
  readonly state: State.State
  /** Fired and replaced whenever the epoch changes: what waiters sleep on. */
  readonly changed: Deferred.Deferred<void>
}

interface Stepped<A> extends State.Step<A> {
  readonly changed: Deferred.Deferred<void>
  readonly now: number
}

/** Past this many keys, idle closed keys (equal to a fresh one) are dropped, so memory follows the active keys. */
const PRUNE_FROM_KEYS = 1_000
/** Slow subscribers of `transitions` lose the oldest transitions past this many. */
const TRANSITION_BUFFER = 1_024

/** The service, plus the number of keys held (for tests of the pruning). */
export interface Breaker extends Service {
  readonly keyCount: Effect.Effect<number>
}

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

export const make = (settings: Options.Settings): Effect.Effect<Breaker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const machine = settings.machine
    const entries = new Map<string, Entry>()
    let pruneAt = PRUNE_FROM_KEYS
    const lock = yield* Effect.makeSemaphore(1)
    const hub = yield* Effect.acquireRelease(PubSub.sliding<Transition>(TRANSITION_BUFFER), PubSub.shutdown)

    const breakFor = (state: State.State, now: number) =>
      Schedule.breakMillis(settings.breakSchedule, State.nextBreakIndex(state), now)

    const announce = (key: string, from: State.State, to: State.State, now: number): Effect.Effect<void> => {
      if (from.status === to.status) return Effect.void
      const transition: Transition = {
        key,
        from: from.status,
        to: to.status,
        atMillis: now,
        ...(to.status === "Open" ? { breakMillis: to.breakMillis } : {})
      }
      return Effect.zipRight(
        Effect.all([PubSub.publish(hub, transition), Metrics.recordTransition(key, from.status, to.status)]),
        logTransition(transition)
      )
    }

    const entryFor = (key: string, now: number): Effect.Effect<Entry> => {
      const found = entries.get(key)
      if (found !== undefined) return Effect.succeed(found)
      if (entries.size >= pruneAt) {
        for (const [held, entry] of entries) if (State.isIdle(entry.state, now, machine)) entries.delete(held)
        pruneAt = Math.max(PRUNE_FROM_KEYS, entries.size * 2)
      }
      return Effect.map(Deferred.make<void>(), (changed) => ({ state: State.initial, changed }))
    }

    /** Applies `f` to the key's record under the lock, after timing out an expired probe. */
    const step = <A>(
      key: string,
      f: (state: State.State, now: number) => Effect.Effect<State.Step<A>>
    ): Effect.Effect<Stepped<A>> =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const entry = yield* entryFor(key, now)
          const before = entry.state
          const current = State.probeExpired(before, now, machine)
            ? State.expire(before, now, machine, yield* breakFor(before, now))
            : before
          const { state, result } = yield* f(current, now)
          let changed = entry.changed
          if (state.epoch !== before.epoch) {
            changed = yield* Deferred.make<void>()
            yield* Deferred.succeed(entry.changed, undefined)
          }
          entries.set(key, { state, changed })
          yield* announce(key, before, current, now)
          yield* announce(key, current, state, now)
          return { state, result, changed, now }
        })
      )

    const settle = (key: string, ticket: State.Ticket, outcome: State.Outcome) =>
      step(key, (state, now) =>
        Effect.map(State.mayOpen(state, ticket, outcome) ? breakFor(state, now) : Effect.succeed(0), (breakMillis) => ({
          state: State.report(state, ticket, outcome, now, machine, breakMillis),
          result: undefined
        }))
      )

    const passFor = (key: string, ticket: State.Ticket): Effect.Effect<Pass, never, Scope.Scope> =>
      Effect.gen(function* () {
        const settled = yield* Ref.make(false)
        const report = (outcome: State.Outcome) =>
          Effect.uninterruptible(
            Effect.flatMap(Ref.getAndSet(settled, true), (done) => (done ? Effect.void : settle(key, ticket, outcome)))
          )
        yield* Effect.addFinalizer(() => report("ignored"))
        return { probe: ticket.probe, report }
      })

    /** How long a caller without `maxWaitMillis` waits: until the next probe's verdict is due. */
    const waitBudget = (state: State.State, wakeAtMillis: number, now: number, maxWaitMillis: number | undefined) => {
      if (maxWaitMillis === undefined) {
        return wakeAtMillis - now + (state.status === "Open" ? machine.probeTimeoutMillis : 0)
      }
      return maxWaitMillis >= 0 ? maxWaitMillis : 0
    }

    /** The earliest a next probe may start: the end of this break, or of the break a failing probe would start. */
    const retryAfter = (state: State.State, now: number): Effect.Effect<number> =>
      state.status === "Open" ? Effect.succeed(Math.max(0, state.openUntilMillis - now)) : breakFor(state, now)

    const admit = (key: string, options?: AdmitOptions): Effect.Effect<Pass, CircuitOpenError, Scope.Scope> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          let deadline: number | undefined
          while (true) {
            const { state, result, changed, now } = yield* step(key, (current, now) =>
              Effect.succeed(State.admit(current, now, machine))
            )
            if (result._tag === "Admitted") return yield* passFor(key, result.ticket)
            deadline ??= now + waitBudget(state, result.wakeAtMillis, now, options?.maxWaitMillis)
            if (now >= deadline || (state.status === "Open" && state.openUntilMillis > deadline)) {
              return yield* new CircuitOpenError({ key, retryAfterMillis: yield* retryAfter(state, now) })
            }
            const sleep = Duration.millis(Math.min(deadline, result.wakeAtMillis) - now)
            yield* restore(Effect.timeoutOption(Deferred.await(changed), sleep))
          }
        })
      )

    const state = (key: string): Effect.Effect<State.Status> =>
      entries.has(key)
        ? Effect.map(
            step(key, (current) => Effect.succeed({ state: current, result: undefined })),
            (stepped) => stepped.state.status
          )
        : Effect.succeed("Closed")

    return {
      admit,
      state,
      transitions: Stream.fromPubSub(hub),
      keyCount: Effect.sync(() => entries.size)
    }
  })
