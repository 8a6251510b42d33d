/**
 * The quiet path: a closed key past its cold start lets calls out and counts their verdicts without the lock. These
 * tests pin where that path ends: a held lock, a verdict that trips, a cold key, an interrupted call.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Scope, Stream, Chunk } from "effect"
import * as Breaker from "../src/internal/breaker/breaker.js"
import * as Core from "../src/internal/breaker/core.js"
import * as BreakerOptions from "../src/internal/breaker/options.js"
import type * as State from "../src/internal/breaker/state.js"

const KEY = "https://api.x.ai/v1|grok-4"

/** Lets every fiber woken by the last step run until it waits again. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

const build = (options: BreakerOptions.Options) =>
  Effect.gen(function* () {
    const core = yield* Core.make(yield* BreakerOptions.validate(options))
    return { core, breaker: Breaker.fromCore(core) }
  })

const call = (breaker: Breaker.Breaker, outcome: State.Outcome) =>
  Effect.scoped(Effect.flatMap(breaker.admit(KEY, { maxWaitMillis: 0 }), (pass) => pass.report(outcome)))

/** Holds the breaker's lock (a step on another key) until `release` is run. */
const holdLock = (core: Core.Core) =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const holder = yield* Effect.fork(
      Core.step(core, "other|key", (state) => Effect.as(Deferred.await(gate), { state, result: undefined }))
    )
    yield* settle
    expect(core.lock.isFree()).toBe(false)
    return Effect.zipRight(Deferred.succeed(gate, undefined), Fiber.join(holder))
  })

const stateOf = (core: Core.Core) => core.entries.get(KEY)!.state

describe("CircuitBreaker, quiet path", () => {
  it.scoped("a proven key counts its verdicts at once, and the failure that trips still opens and announces", () =>
    Effect.gen(function* () {
      const { breaker, core } = yield* build({ consecutiveFailures: 3, coldStart: { calls: 1 } })
      const seen = yield* Effect.fork(Stream.runCollect(Stream.take(breaker.transitions, 1)))
      yield* settle
      yield* call(breaker, "success")
      expect(stateOf(core).proven).toBe(true)
      yield* call(breaker, "failure")
      yield* call(breaker, "failure")
      expect(stateOf(core).consecutiveFailures).toBe(2)
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
      const [transition] = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      expect(transition).toMatchObject({ key: KEY, from: "Closed", to: "Open" })
    })
  )

  it.scoped("while a step holds the lock, a call on a proven key waits its turn, and its verdict is not lost", () =>
    Effect.gen(function* () {
      const { breaker, core } = yield* build({ consecutiveFailures: 2, coldStart: false })
      yield* call(breaker, "success")
      const scope = yield* Scope.make()
      const first = yield* breaker.admit(KEY).pipe(Scope.extend(scope))
      const release = yield* holdLock(core)
      const admitting = yield* Effect.fork(Scope.extend(breaker.admit(KEY), scope))
      const reporting = yield* Effect.fork(first.report("failure"))
      yield* settle
      expect(Option.isNone(yield* Fiber.poll(admitting))).toBe(true)
      expect(Option.isNone(yield* Fiber.poll(reporting))).toBe(true)
      expect(stateOf(core).consecutiveFailures).toBe(0)
      yield* release
      const second = yield* Fiber.join(admitting)
      yield* Fiber.join(reporting)
      expect(stateOf(core).consecutiveFailures).toBe(1)
      yield* second.report("failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
      yield* Scope.close(scope, Exit.void)
    })
  )

  it.scoped("a cold key takes the locked path: its slots are held and given back", () =>
    Effect.gen(function* () {
      const { breaker, core } = yield* build({ coldStart: { calls: 2 } })
      const scope = yield* Scope.make()
      yield* breaker.admit(KEY).pipe(Scope.extend(scope))
      yield* breaker.admit(KEY).pipe(Scope.extend(scope))
      expect(stateOf(core).coldSlotsUsed).toBe(2)
      yield* Scope.close(scope, Exit.void)
      expect(stateOf(core).coldSlotsUsed).toBe(0)
      expect(stateOf(core).proven).toBe(false)
    })
  )

  it.scoped("a call on a proven key interrupted before its verdict leaves the record as it was", () =>
    Effect.gen(function* () {
      const { breaker, core } = yield* build({ consecutiveFailures: 2, coldStart: { calls: 1 } })
      yield* call(breaker, "success")
      const before = stateOf(core)
      const admitted = yield* Deferred.make<void>()
      const attempt = yield* Effect.fork(
        Effect.scoped(
          Effect.flatMap(breaker.admit(KEY), (pass) =>
            Effect.zipRight(
              Deferred.succeed(admitted, undefined),
              Effect.zipRight(Effect.never, pass.report("failure"))
            )
          )
        )
      )
      yield* Deferred.await(admitted)
      yield* Fiber.interrupt(attempt)
      expect(stateOf(core)).toBe(before)
      expect(core.lock.isFree()).toBe(true)
      // Nothing held: the next two failures open the breaker, as on a key that never saw the interrupted call.
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* call(breaker, "failure")
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("only a pass's first verdict counts on the quiet path too", () =>
    Effect.gen(function* () {
      const { breaker, core } = yield* build({ consecutiveFailures: 2, coldStart: false })
      yield* Effect.scoped(
        Effect.flatMap(breaker.admit(KEY), (pass) =>
          Effect.zipRight(pass.report("success"), Effect.zipRight(pass.report("failure"), pass.report("failure")))
        )
      )
      expect(stateOf(core).consecutiveFailures).toBe(0)
      expect(yield* breaker.state(KEY)).toBe("Closed")
    })
  )
})
