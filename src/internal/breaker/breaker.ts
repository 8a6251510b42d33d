/**
 * The circuit breaker service: passes, the probe slot, and callers waiting for the probe's verdict, over the
 * records of `core.ts`.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Core from "./core.js"
import { CircuitOpenError } from "./errors.js"
import type * as Options from "./options.js"
import * as State from "./state.js"
import type { AdmitOptions, Pass, Service } from "./types.js"

/** The service, plus the number of keys held (for tests of the pruning). */
export interface Breaker extends Service {
  readonly keyCount: Effect.Effect<number>
}

const settle = (core: Core.Core, key: string, ticket: State.Ticket, outcome: State.Outcome) =>
  Core.step(core, key, (state, now) =>
    Effect.map(
      State.mayOpen(state, ticket, outcome) ? Core.breakFor(core, state, now) : Effect.succeed(0),
      (breakMillis) => ({
        state: State.report(state, ticket, outcome, now, core.settings.machine, breakMillis),
        result: undefined
      })
    )
  )

/**
 * The report of a pass: only the first counts. A verdict that only counts a call of a closed key is applied at once
 * (no lock, no fiber switch); any other is a locked step, uninterruptible so that it is never lost half-way.
 */
const reporter = (core: Core.Core, key: string, ticket: State.Ticket): QuietPass => {
  let settled = false
  const stepped = (outcome: State.Outcome) =>
    Effect.uninterruptible(
      Effect.suspend(() => {
        if (settled) return Effect.void
        settled = true
        return settle(core, key, ticket, outcome)
      })
    )
  const reportNow = (outcome: State.Outcome, now: number): boolean => {
    if (settled) return true
    const quiet = Core.stepQuietly(core, key, (state) =>
      State.quietReport(state, ticket, outcome, now, core.settings.machine)
    )
    if (quiet) settled = true
    return quiet
  }
  return {
    probe: false,
    reportNow,
    report: (outcome) =>
      Effect.clockWith((clock) =>
        reportNow(outcome, clock.unsafeCurrentTimeMillis()) ? Effect.void : stepped(outcome)
      )
  }
}

/**
 * A pass with its verdict applied in the caller's own step where it can be: `reportNow` applies a verdict that
 * needs no lock and says whether it did; otherwise `report` must run.
 */
export interface QuietPass extends Pass {
  readonly reportNow: (outcome: State.Outcome, nowMillis: number) => boolean
}

/** A pass whose scope reports "ignored" when it closes without a report. */
const passFor = (core: Core.Core, key: string, ticket: State.Ticket): Effect.Effect<Pass, never, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    const { report } = reporter(core, key, ticket)
    // The scope's own finalizer, not `Effect.addFinalizer`: no FiberRefs to restore for a step that reads none.
    return Effect.as(Scope.addFinalizer(scope, report("ignored")), { probe: ticket.probe, report })
  })

/**
 * When a caller gives up waiting for a probe: `maxWaitMillis` from the moment it started to; without it, when the
 * next probe's verdict is due. A cold-start hold (Closed) is not such a wait and sets no deadline: it ends within
 * its hold, so even a caller that may not wait at all (one with a fallback model) waits for the first verdicts
 * rather than leave a model that is most likely up.
 */
const waitDeadline = (
  core: Core.Core,
  state: State.State,
  wakeAtMillis: number,
  now: number,
  maxWaitMillis: number | undefined
): number | undefined => {
  if (state.status === "Closed") return undefined
  if (maxWaitMillis !== undefined) return now + (maxWaitMillis >= 0 ? maxWaitMillis : 0)
  return wakeAtMillis + (state.status === "Open" ? core.settings.machine.probeTimeoutMillis : 0)
}

/** The earliest a next probe may start: the end of this break, or of the break a failing probe would start. */
const retryAfter = (core: Core.Core, state: State.State, now: number): Effect.Effect<number> =>
  state.status === "Open" ? Effect.succeed(Math.max(0, state.openUntilMillis - now)) : Core.breakFor(core, state, now)

/**
 * Passes, becomes the probe, or waits for a change of phase (or the time one is due) and asks again. Only the
 * wait is interruptible: a pass is never handed out without the finalizer that frees it.
 */
const admitStepping = (
  core: Core.Core,
  key: string,
  options: AdmitOptions | undefined
): Effect.Effect<Pass, CircuitOpenError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      let deadline: number | undefined
      while (true) {
        const { state, result, changed, now } = yield* Core.step(core, key, (current, now) =>
          Effect.succeed(State.admit(current, now, core.settings.machine))
        )
        if (result._tag === "Admitted") return yield* passFor(core, key, result.ticket)
        deadline ??= waitDeadline(core, state, result.wakeAtMillis, now, options?.maxWaitMillis)
        if (
          deadline !== undefined &&
          (now >= deadline || (state.status === "Open" && state.openUntilMillis > deadline))
        ) {
          return yield* new CircuitOpenError({ key, retryAfterMillis: yield* retryAfter(core, state, now) })
        }
        const sleep = Duration.millis(Math.min(deadline ?? Infinity, result.wakeAtMillis) - now)
        yield* restore(Effect.timeoutOption(Deferred.await(changed), sleep))
      }
    })
  )

/**
 * The pass of a closed key past its cold start, let out with no step (undefined when `admit` must decide): the
 * record does not change, and the pass needs no finalizer, since its "ignored" verdict changes nothing (an
 * interrupted call leaves nothing held).
 */
export const quietPass = (core: Core.Core, key: string): QuietPass | undefined => {
  const state = Core.quietState(core, key)
  const ticket = state === undefined ? undefined : State.quietTicket(state, core.settings.machine)
  return ticket === undefined ? undefined : reporter(core, key, ticket)
}

/**
 * The quiet passes of the breakers made here, by service: the pipeline's attempt takes one in its own step, with no
 * scope. A service not listed (the shared breaker, a caller's own) is always asked through `admit`.
 */
const quietPasses = new WeakMap<Service, (key: string) => QuietPass | undefined>()

/** The quiet pass of `key` from `service` now, when it is one of ours and the key is quiet; else undefined. */
export const unsafeQuietPass = (service: Service, key: string): QuietPass | undefined => quietPasses.get(service)?.(key)

const admit = (
  core: Core.Core,
  key: string,
  options: AdmitOptions | undefined
): Effect.Effect<Pass, CircuitOpenError, Scope.Scope> =>
  Effect.suspend(() => {
    const pass = quietPass(core, key)
    return pass === undefined ? admitStepping(core, key, options) : Effect.succeed(pass)
  })

/** Looks the key up when run, not when built: an effect kept and run again must see the key appear. */
const status = (core: Core.Core, key: string): Effect.Effect<State.Status> =>
  Effect.suspend(() => {
    if (!core.entries.has(key) || Core.quietState(core, key)?.status === "Closed") return Effect.succeed("Closed")
    return Effect.map(
      Core.step(core, key, (current) => Effect.succeed({ state: current, result: undefined })),
      (stepped) => stepped.state.status
    )
  })

/** The service over records made elsewhere (the shared breaker makes its own, with an observer). */
export const fromCore = (core: Core.Core): Breaker => {
  const breaker: Breaker = {
    admit: (key, options) => admit(core, key, options),
    state: (key) => status(core, key),
    transitions: Stream.fromPubSub(core.hub),
    keyCount: Effect.sync(() => core.entries.size)
  }
  quietPasses.set(breaker, (key) => quietPass(core, key))
  return breaker
}

export const make = (settings: Options.Settings): Effect.Effect<Breaker, never, Scope.Scope> =>
  Effect.map(Core.make(settings), fromCore)
