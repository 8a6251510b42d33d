/**
 * The admission of a call that finds room: in the caller's own step when nobody waits and the store is a memory
 * store, and never ahead of a caller already queued.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as MemoryStore from "../src/MemoryStore.js"
import * as RateLimiter from "../src/RateLimiter.js"
import type * as RateLimiterStore from "../src/RateLimiterStore.js"
import { admitAndRecord, quiesce, ticket } from "./RateLimiterSupport.js"

/** One admission, reported and released, run synchronously: it fails if the admission has to wait for anything. */
const admitInStep = (limiter: RateLimiter.Service, estimatedTokens = 0) =>
  Effect.runSyncExit(
    Effect.scoped(
      Effect.flatMap(limiter.acquire(ticket({ estimatedTokens })), (permit) =>
        permit.report({ status: 200, info: {}, usedTokens: 1 })
      )
    )
  )

/** A limiter built outside any test runtime, so that its admissions can be run with `runSync`. */
const built = (options: RateLimiter.Options) => {
  const scope = Effect.runSync(Scope.make())
  const limiter = Effect.runSync(Scope.extend(RateLimiter.make(options), scope))
  return { limiter, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

describe("RateLimiter immediate admission", () => {
  it("admits a call with room in the caller's own step, without the dispatcher", async () => {
    const { limiter, close } = built({ requestsPerSecond: 1e6, burst: 1e6 })
    for (let i = 0; i < 3; i++) expect(Exit.isSuccess(admitInStep(limiter, 10))).toBe(true)
    expect(Effect.runSync(limiter.snapshot)).toMatchObject({ queued: 0, inFlight: 0 })
    await close()
  })

  it("keeps a store of someone else's core to effects, which may fail or take time", async () => {
    const core = MemoryStore.makeCore()
    const store: RateLimiterStore.Service = MemoryStore.fromCore({ ...core })
    const { limiter, close } = built({ requestsPerSecond: 1e6, store })
    const exit = admitInStep(limiter)
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("cannot be resolved synchronously")
    await close()
  })

  it.scoped("never passes a caller already queued, even when the key has room", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ requestsPerSecond: 1000, maxConcurrency: 1 })
      const first = yield* Scope.make()
      yield* Scope.extend(limiter.acquire(ticket()), first)
      const log: Array<readonly [string, number]> = []
      const queued = yield* admitAndRecord(limiter, log, "queued")
      yield* quiesce
      // The slot frees and a newcomer asks in the same step, before the dispatcher has had a turn.
      yield* Scope.close(first, Exit.void)
      yield* Effect.scoped(Effect.tap(limiter.acquire(ticket()), () => Effect.sync(() => log.push(["newcomer", 0]))))
      yield* Fiber.join(queued)
      expect(log.map(([label]) => label)).toEqual(["queued", "newcomer"])
    })
  )
})
