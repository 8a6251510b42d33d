/**
 * The circuit breaker service: passes, the probe slot, and callers waiting for the probe's verdict, over the
 * records of `core.ts`.
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
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

/** A pass whose first report counts, and whose scope reports "ignored" when it closes without one. */
const passFor = (core: Core.Core, key: string, ticket: State.Ticket): Effect.Effect<Pass, never, Scope.Scope> =>
  Effect.gen(function* () {
    const settled = yield* Ref.make(false)
    const report = (outcome: State.Outcome) =>
      Effect.uninterruptible(
        Effect.flatMap(Ref.getAndSet(settled, true), (done) =>
          done ? Effect.void : settle(core, key, ticket, outcome)
        )
      )
    yield* Effect.addFinalizer(() => report("ignored"))
    return { probe: ticket.probe, report }
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
const admit = (
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

/** Looks the key up when run, not when built: an effect kept and run again must see the key appear. */
const status = (core: Core.Core, key: string): Effect.Effect<State.Status> =>
  Effect.suspend(() =>
    core.entries.has(key)
      ? Effect.map(
          Core.step(core, key, (current) => Effect.succeed({ state: current, result: undefined })),
          (stepped) => stepped.state.status
        )
      : Effect.succeed("Closed")
  )

/** The service over records made elsewhere (the shared breaker makes its own, with an observer). */
export const fromCore = (core: Core.Core): Breaker => ({
  admit: (key, options) => admit(core, key, options),
  state: (key) => status(core, key),
  transitions: Stream.fromPubSub(core.hub),
  keyCount: Effect.sync(() => core.entries.size)
})

export const make = (settings: Options.Settings): Effect.Effect<Breaker, never, Scope.Scope> =>
  Effect.map(Core.make(settings), fromCore)
