/**
 * A circuit breaker whose breaks and verdicts are shared by a fleet of processes through a `Fleet` (Redis), while
 * every process still counts its own calls: a call in a closed key costs no round trip.
 *
 * - A local trip (or a failed probe) is pushed to the fleet as soon as the report that caused it returns; the
 *   fleet answers with the break that holds (its own clock), which the process adopts. Other processes adopt it
 *   when the fleet announces it, and every waiter re-reads its wake time.
 * - The first local caller after a break becomes the local probe, then asks the fleet for the probe lease. Without
 *   it, the pass is parked with a proxy that holds the local probe slot (so local waiters keep waiting) until the
 *   fleet's verdict arrives, the lease is given back or expires, or the key changes: announcements wake it, and it
 *   polls the fleet every `pollMillis` in case one was lost.
 * - When the fleet does not answer, the breaker is local: one warning, a metric, and no fleet call for
 *   `retryMillis`.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Breaker from "./breaker.js"
import * as Core from "./core.js"
import type { CircuitOpenError } from "./errors.js"
import type * as Fleet from "./fleet.js"
import * as Metrics from "./metrics.js"
import type * as Options from "./options.js"
import * as State from "./state.js"
import type { AdmitOptions, Pass } from "./types.js"

export interface Settings {
  readonly breaker: Options.Settings
  /** Longest a parked probe slot goes without asking the fleet (the bound when announcements are lost). */
  readonly pollMillis: number
  /** After the fleet failed to answer, how long the breaker stays local before asking it again. */
  readonly retryMillis: number
}

/** What the fleet must learn of a local step. */
interface Push {
  readonly kind: "trip" | "reopen" | "close" | "release"
  readonly key: string
  readonly baseGen: number
  readonly step: number
  readonly breakMillis: number
}

interface Shared {
  readonly fleet: Fleet.Fleet
  readonly settings: Settings
  readonly scope: Scope.Scope
  readonly core: Core.Core
  /** The newest fleet generation seen per key. */
  readonly gens: Map<string, number>
  /** Keys being moved to the fleet's record: the observer must not push that back. */
  readonly adopting: Set<string>
  /** Keys whose fleet probe lease this process holds. */
  readonly holding: Set<string>
  readonly outbox: Array<Push>
  /** Rung when the outbox fills, for steps taken inside a wait (a probe timing out) that no report flushes. */
  readonly bell: Queue.Queue<void>
  /** One flush at a time, so pushes reach the fleet in the order they were decided. */
  readonly sending: Effect.Semaphore
  /** Flushes started and not done. */
  flushing: number
  /** Parked probe slots, woken by announcements. */
  readonly wakes: Map<string, Deferred.Deferred<void>>
  readonly health: { downUntil: number; down: boolean }
}

const observer =
  (shared: () => Shared | undefined): Core.Observer =>
  (key, from, to) => {
    const self = shared()
    if (self === undefined) return
    const held = self.holding.has(key)
    if (to.status !== "HalfOpen" || to.probeStartedAtMillis === undefined) self.holding.delete(key)
    if (self.adopting.has(key)) return
    const baseGen = self.gens.get(key) ?? 0
    const push = (kind: Push["kind"]) => {
      self.outbox.push({ kind, key, baseGen, step: to.failedProbes, breakMillis: to.breakMillis })
      Queue.unsafeOffer(self.bell, undefined)
    }
    if (to.status === "Open" && from.status === "Closed") push("trip")
    else if (to.status === "Open" && from.status === "HalfOpen") push("reopen")
    else if (to.status === "Closed" && from.status === "HalfOpen") push("close")
    else if (to.status === "HalfOpen" && to.probeStartedAtMillis === undefined && held) push("release")
  }

/** The local record that matches the fleet's: a fresh closed key, or a break ending when the fleet's does. */
const adopted = (state: State.State, record: Fleet.FleetRecord, now: number): State.State => {
  // Closed by a probe's success somewhere: the service has just answered, so no cold-start hold (as `State.close`).
  if (record.status === "Closed") {
    return state.status === "Closed" ? state : { ...State.initial, epoch: state.epoch + 1, proven: true }
  }
  const openUntilMillis = now + Math.max(0, record.remainingMillis)
  if (state.status === "Open" && state.openUntilMillis === openUntilMillis && state.failedProbes === record.step) {
    return state
  }
  return {
    ...State.initial,
    proven: state.proven,
    status: "Open",
    epoch: state.epoch + 1,
    failedProbes: record.step,
    openUntilMillis,
    breakMillis: record.breakMillis
  }
}

/** Past this many generations held, those of keys the breaker dropped (idle) are forgotten too. */
const FORGET_FROM_KEYS = 2_000

const remember = (shared: Shared, key: string, gen: number): void => {
  if (shared.gens.size >= Math.max(FORGET_FROM_KEYS, 2 * shared.core.entries.size)) {
    for (const held of shared.gens.keys()) if (!shared.core.entries.has(held)) shared.gens.delete(held)
  }
  shared.gens.set(key, Math.max(gen, shared.gens.get(key) ?? 0))
}

/** Moves the key to a fleet record newer than any seen; older or repeated records change nothing. */
const adopt = (shared: Shared, key: string, record: Fleet.FleetRecord): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (record.gen <= (shared.gens.get(key) ?? 0)) return Effect.void
    remember(shared, key, record.gen)
    return Core.step(shared.core, key, (state, now) => {
      shared.adopting.add(key)
      return Effect.succeed({ state: adopted(state, record, now), result: undefined })
    }).pipe(Effect.asVoid, Effect.ensuring(Effect.sync(() => shared.adopting.delete(key))))
  })

/** One fleet call, or none while the fleet is known to be down; a failure makes the breaker local for a while. */
const fleetCall = <A>(shared: Shared, call: Effect.Effect<A, Fleet.FleetError>): Effect.Effect<Option.Option<A>> =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    if (now < shared.health.downUntil) return Option.none()
    const result = yield* Effect.either(
      Effect.catchAllDefect(call, (defect) => Effect.fail({ detail: `it died: ${String(defect)}` }))
    )
    if (Either.isLeft(result)) {
      shared.health.downUntil = now + shared.settings.retryMillis
      yield* Metric.increment(Metrics.sharedUnavailable)
      if (!shared.health.down) {
        shared.health.down = true
        yield* Effect.logWarning(
          `CircuitBreaker: shared state unavailable (${result.left.detail}): each process keeps its own breaker state until it answers again`
        )
      }
      return Option.none()
    }
    if (shared.health.down) {
      shared.health.down = false
      yield* Effect.logInfo("CircuitBreaker: shared state answers again: breaks and probes are shared again")
    }
    return Option.some(result.right)
  })

const send = (shared: Shared, push: Push): Effect.Effect<void> => {
  const { fleet } = shared
  switch (push.kind) {
    case "trip":
    case "reopen": {
      const request = { reopen: push.kind === "reopen", baseGen: push.baseGen, step: push.step }
      return Effect.flatMap(
        fleetCall(shared, fleet.open(push.key, { ...request, breakMillis: push.breakMillis })),
        Option.match({ onNone: () => Effect.void, onSome: (record) => adopt(shared, push.key, record) })
      )
    }
    case "close":
      return Effect.flatMap(
        fleetCall(shared, fleet.close(push.key)),
        Option.match({ onNone: () => Effect.void, onSome: (record) => adopt(shared, push.key, record) })
      )
    case "release":
      return Effect.asVoid(fleetCall(shared, fleet.release(push.key)))
  }
}

/** Tells the fleet what the local steps decided, in order; returns once every push decided so far is sent. */
const flush = (shared: Shared): Effect.Effect<void> =>
  Effect.suspend(() => {
    // The hot path: nothing decided, nothing being sent.
    if (shared.outbox.length === 0 && shared.flushing === 0) return Effect.void
    shared.flushing++
    return shared.sending
      .withPermits(1)(
        Effect.suspend(() => Effect.forEach(shared.outbox.splice(0), (push) => send(shared, push), { discard: true }))
      )
      .pipe(Effect.ensuring(Effect.sync(() => shared.flushing--)), Effect.uninterruptible)
  })

const epochOf = (shared: Shared, key: string): number | undefined => shared.core.entries.get(key)?.state.epoch

/** The pass whose reports reach the fleet: what a report decided is pushed before it returns. */
const pushing = (shared: Shared, pass: Pass): Pass => ({
  probe: pass.probe,
  report: (outcome) => Effect.zipRight(pass.report(outcome), flush(shared))
})

/** Gives the caller a pass held in `scope`: its reports, and the end of the caller's scope, reach the fleet. */
const handOver = (shared: Shared, scope: Scope.CloseableScope, pass: Pass): Effect.Effect<Pass, never, Scope.Scope> =>
  Effect.as(
    Effect.addFinalizer((exit) => Effect.zipRight(Scope.close(scope, exit), flush(shared))),
    pushing(shared, pass)
  )

/** How long a parked slot sleeps before asking the fleet again. */
const pause = (shared: Shared, millis: number): Duration.Duration =>
  Duration.millis(Math.min(shared.settings.pollMillis, Math.max(1, millis)))

/**
 * Holds the local probe slot while another process probes, and frees it when the fleet's verdict was adopted
 * (the key moved on), or when the lease is free and the break over (a local waiter then asks for the lease).
 */
const park = (
  shared: Shared,
  key: string,
  epoch: number | undefined,
  scope: Scope.CloseableScope,
  waitMillis: number
): Effect.Effect<void> =>
  Effect.suspend(() => {
    let wake: Deferred.Deferred<void> | undefined
    // Forget this park's bell only: once the slot is freed, a new local probe may park with a bell of its own.
    const forget = Effect.sync(() => {
      if (wake !== undefined && shared.wakes.get(key) === wake) shared.wakes.delete(key)
    })
    const watch = Effect.gen(function* () {
      let wait = waitMillis
      while (epochOf(shared, key) === epoch) {
        wake = yield* Deferred.make<void>()
        shared.wakes.set(key, wake)
        yield* Effect.timeoutOption(Deferred.await(wake), pause(shared, wait))
        if (epochOf(shared, key) !== epoch) return
        const peeked = yield* fleetCall(shared, shared.fleet.peek(key))
        if (Option.isNone(peeked)) return
        const { record, leaseMillis } = peeked.value
        if (record !== undefined) yield* adopt(shared, key, record)
        const over = record === undefined || record.status === "Closed" || record.remainingMillis <= 0
        if (leaseMillis <= 0 && over) return
        wait = leaseMillis > 0 ? leaseMillis : (record?.remainingMillis ?? 0)
      }
    })
    return Effect.ensuring(watch, Effect.zipRight(forget, Scope.close(scope, Exit.void)))
  })

/**
 * The fleet's answer to a local probe: `pass` (hand the probe to the caller), or `again` (the slot was parked or
 * the key moved on; the caller asks the local breaker again).
 */
const claimed = (shared: Shared, key: string, scope: Scope.CloseableScope): Effect.Effect<"pass" | "again"> =>
  Effect.gen(function* () {
    const epoch = epochOf(shared, key)
    const claim = yield* fleetCall(shared, shared.fleet.claim(key, shared.settings.breaker.machine.probeTimeoutMillis))
    if (Option.isNone(claim)) return "pass"
    const answer = claim.value
    const known = shared.gens.get(key) ?? 0
    if (answer._tag === "Probe" || (answer._tag === "Closed" && answer.record.gen <= known)) {
      // The probe of the fleet's break (or of a local break the fleet never heard of).
      if (answer._tag === "Probe") shared.holding.add(key)
      if (answer.record !== undefined) remember(shared, key, answer.record.gen)
      return "pass"
    }
    yield* adopt(shared, key, answer.record)
    if (answer._tag === "Closed" || epochOf(shared, key) !== epoch) {
      yield* Scope.close(scope, Exit.void)
      return "again"
    }
    const wait = answer._tag === "Busy" ? answer.leaseMillis : answer.record.remainingMillis
    yield* Effect.forkIn(Effect.interruptible(park(shared, key, epoch, scope, wait)), shared.scope)
    return "again"
  })

const admitStepping = (
  shared: Shared,
  local: Breaker.Breaker,
  key: string,
  options: AdmitOptions | undefined
): Effect.Effect<Pass, CircuitOpenError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const maxWait = options?.maxWaitMillis
      const start = maxWait === undefined ? 0 : yield* Clock.currentTimeMillis
      while (true) {
        const left =
          maxWait === undefined ? undefined : Math.max(0, maxWait - ((yield* Clock.currentTimeMillis) - start))
        const scope = yield* Scope.make()
        const pass = yield* restore(local.admit(key, { maxWaitMillis: left })).pipe(
          Scope.extend(scope),
          Effect.tapErrorCause(() => Scope.close(scope, Exit.void))
        )
        yield* flush(shared)
        if (!pass.probe || (yield* claimed(shared, key, scope)) === "pass") return yield* handOver(shared, scope, pass)
      }
    })
  )

/**
 * A closed key past its cold start, with nothing left to push, passes as in the local breaker: no fleet call, no
 * scope of its own. Anything else goes through the local steps and the fleet's probe lease.
 */
const admit = (
  shared: Shared,
  local: Breaker.Breaker,
  key: string,
  options: AdmitOptions | undefined
): Effect.Effect<Pass, CircuitOpenError, Scope.Scope> =>
  Effect.suspend(() => {
    const quiet = shared.outbox.length === 0 && shared.flushing === 0 ? Breaker.quietPass(shared.core, key) : undefined
    return quiet === undefined ? admitStepping(shared, local, key, options) : Effect.succeed(pushing(shared, quiet))
  })

const onEvent = (shared: Shared, event: Fleet.FleetEvent): Effect.Effect<void> =>
  Effect.zipRight(
    event.released ? Effect.void : adopt(shared, event.key, event.record),
    Effect.suspend(() => {
      const wake = shared.wakes.get(event.key)
      return wake === undefined ? Effect.void : Deferred.succeed(wake, undefined)
    })
  )

/** The shared breaker in the current scope; the fleet's announcements are followed until the scope closes. */
export const make = (fleet: Fleet.Fleet, settings: Settings): Effect.Effect<Breaker.Breaker, never, Scope.Scope> =>
  Effect.gen(function* () {
    let shared: Shared | undefined
    const core = yield* Core.make(
      settings.breaker,
      observer(() => shared)
    )
    const self: Shared = {
      fleet,
      settings,
      scope: yield* Effect.scope,
      core,
      gens: new Map(),
      adopting: new Set(),
      holding: new Set(),
      outbox: [],
      bell: yield* Queue.sliding<void>(1),
      sending: yield* Effect.makeSemaphore(1),
      flushing: 0,
      wakes: new Map(),
      health: { downUntil: 0, down: false }
    }
    shared = self
    const local = Breaker.fromCore(core)
    yield* Effect.forkScoped(Stream.runForEach(fleet.events, (event) => onEvent(self, event)))
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Queue.take(self.bell), flush(self))))
    return { ...local, admit: (key, options) => admit(self, local, key, options) }
  })
