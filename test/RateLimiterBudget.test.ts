import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimiterStore from "../src/RateLimiterStore.js"
import { admitAndRecord, holdPermit, quiesce, quotaOut, rejection, ticket, times } from "./RateLimiterSupport.js"

describe("RateLimiter", () => {
  describe("tokens", () => {
    // 61,000 tokens per minute with a bucket of 1,000: the refill is (61,000 − 1,000) / 60 s, one token per
    // millisecond, so that no 60 s window ever holds more than 61,000.
    const tokenOptions = { tokensPerMinute: 61_000, tokenBurst: 1000 }

    const afterFirst = (settle: (permit: RateLimiter.Permit) => Effect.Effect<void>) =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make(tokenOptions)
        const log: Array<readonly [string, number]> = []
        yield* Effect.scoped(Effect.flatMap(limiter.acquire(ticket({ estimatedTokens: 1000 })), settle))
        yield* admitAndRecord(limiter, log, "next", { estimatedTokens: 1000 })
        yield* TestClock.adjust("10 seconds")
        return log
      })

    it.scoped("waits for the token budget an estimate took", () =>
      Effect.gen(function* () {
        const log = yield* afterFirst((permit) => permit.report({ status: 200, info: {}, usedTokens: 1000 }))
        expect(log).toEqual([["next", 1000]])
      })
    )

    it.scoped("gives back what a call used less than its estimate", () =>
      Effect.gen(function* () {
        const log = yield* afterFirst((permit) => permit.report({ status: 200, info: {}, usedTokens: 200 }))
        expect(log).toEqual([["next", 200]])
      })
    )

    it.scoped("charges what a call used beyond its estimate, reasoning tokens included", () =>
      Effect.gen(function* () {
        const log = yield* afterFirst((permit) => permit.report({ status: 200, info: {}, usedTokens: 3000 }))
        expect(log).toEqual([["next", 3000]])
      })
    )

    it.scoped("returns the whole reservation of a call that ends without an answer", () =>
      Effect.gen(function* () {
        const log = yield* afterFirst(() => Effect.void)
        expect(log).toEqual([["next", 0]])
      })
    )

    it.scoped("a 429 returns the tokens but keeps the request spent", () =>
      Effect.gen(function* () {
        // 100 tokens per second and 2 requests per second.
        const limiter = yield* RateLimiter.make({ tokensPerMinute: 6000, requestsPerSecond: 2 })
        const log: Array<readonly [string, number]> = []
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket({ estimatedTokens: 1000 })), (permit) =>
            permit.report({ status: 429, info: { retryAfterMillis: 0 } })
          )
        )
        yield* admitAndRecord(limiter, log, "next", { estimatedTokens: 100 })
        yield* TestClock.adjust("20 seconds")
        expect(log).toEqual([["next", 500]])
      })
    )

    it.scoped("admits a call estimated above the bucket once the bucket is full", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make(tokenOptions)
        const log: Array<readonly [string, number]> = []
        const spent = (estimatedTokens: number) =>
          [{ estimatedTokens }, { status: 200, info: {}, usedTokens: estimatedTokens }] as const
        yield* admitAndRecord(limiter, log, "small", ...spent(500))
        yield* admitAndRecord(limiter, log, "huge", ...spent(5000))
        yield* admitAndRecord(limiter, log, "after", ...spent(1000))
        yield* TestClock.adjust("20 seconds")
        expect(log).toEqual([
          ["small", 0],
          ["huge", 500],
          ["after", 5500]
        ])
      })
    )
  })

  describe("interruption", () => {
    it.scoped("releases the places of 10,000 interrupted waiters and leaves the full capacity", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({
          maxConcurrency: 2,
          tokensPerMinute: 60_000,
          tokenBurst: 1000,
          maxQueued: 10_000
        })
        const holders = [
          yield* holdPermit(limiter, { estimatedTokens: 500 }),
          yield* holdPermit(limiter, { estimatedTokens: 500 })
        ]
        yield* quiesce
        const waiters = yield* Effect.forEach(Array.from({ length: 10_000 }), () =>
          Effect.fork(Effect.scoped(limiter.acquire(ticket({ estimatedTokens: 100, priority: "low" }))))
        )
        yield* quiesce
        expect(yield* limiter.snapshot).toMatchObject({ queued: 10_000, inFlight: 2 })
        yield* Fiber.interruptAll(waiters)
        expect(yield* limiter.snapshot).toMatchObject({ queued: 0, inFlight: 2 })
        // The holders are interrupted mid-call: no report, so their tokens come back too.
        yield* Fiber.interruptAll(holders.map((holder) => holder.fiber))
        expect(yield* limiter.snapshot).toMatchObject({ queued: 0, inFlight: 0 })

        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(limiter, log, "full-a", { estimatedTokens: 500 })
        yield* admitAndRecord(limiter, log, "full-b", { estimatedTokens: 500 })
        yield* quiesce
        expect(log).toEqual([
          ["full-a", 0],
          ["full-b", 0]
        ])
      })
    )

    it.scoped("never leaks a permit when interruption races with admission", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ maxConcurrency: 1, tokensPerMinute: 60_000, tokenBurst: 100 })
        for (let round = 0; round < 40; round++) {
          const holder = yield* holdPermit(limiter, { estimatedTokens: 0 })
          yield* quiesce
          const waiter = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket({ estimatedTokens: 100 }))))
          yield* quiesce
          yield* Deferred.succeed(holder.release, void 0)
          for (let i = 0; i < round % 8; i++) yield* Effect.yieldNow()
          yield* Fiber.interrupt(waiter)
          yield* quiesce
          expect(yield* limiter.snapshot).toMatchObject({ queued: 0, inFlight: 0 })
        }
        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(limiter, log, "full", { estimatedTokens: 100 })
        yield* quiesce
        expect(log).toEqual([["full", 0]])
      })
    )
  })

  describe("store failures", () => {
    const down = (operation: RateLimiterStore.RateLimiterStoreError["operation"]) =>
      Effect.fail(new RateLimiterStore.RateLimiterStoreError({ operation, detail: "connection refused" }))
    const broken: RateLimiterStore.Service = {
      reserve: () => down("reserve"),
      settle: () => down("settle"),
      hold: () => down("hold")
    }

    it.scoped("paces this process alone with a local store while the store fails", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store: broken })
        const log: Array<readonly [string, number]> = []
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket()), (permit) => permit.report({ status: 429, info: quotaOut(1000) }))
        )
        for (let i = 0; i < 3; i++) yield* admitAndRecord(limiter, log, `c${i}`)
        yield* TestClock.adjust("3 seconds")
        expect(times(log)).toEqual([1000, 1100, 1200])
      })
    )

    it.scoped("rejects with LimiterUnavailable when the store fails and onStoreError is reject", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store: broken, onStoreError: "reject" })
        const exit = yield* Effect.exit(Effect.scoped(limiter.acquire(ticket())))
        expect(rejection(exit)).toBe("LimiterUnavailable")
        expect(yield* limiter.snapshot).toMatchObject({ queued: 0, inFlight: 0 })
      })
    )

    it.effect("fails the callers still queued when the limiter's scope closes", () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const limiter = yield* Scope.extend(RateLimiter.make({ maxConcurrency: 1, adaptive: false }), scope)
        const holder = yield* Effect.fork(Effect.scoped(Effect.andThen(limiter.acquire(ticket()), Effect.never)))
        const waiter = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        yield* quiesce
        yield* Scope.close(scope, Exit.void)
        expect(rejection(yield* Fiber.await(waiter))).toBe("LimiterUnavailable")
        yield* Fiber.interrupt(holder)
      })
    )
  })

  describe("options", () => {
    const invalid = (options: RateLimiter.Options) =>
      Effect.flip(Effect.scoped(Layer.build(RateLimiter.layer(options))))

    it.effect("rejects limits of 0, negative or NaN at layer construction, naming the option", () =>
      Effect.gen(function* () {
        const zero = yield* invalid({ requestsPerSecond: 0 })
        expect(zero._tag).toBe("InvalidLimiterOptions")
        expect(zero.field).toBe("requestsPerSecond")
        expect(zero.message).toBe("Invalid RateLimiter option requestsPerSecond: expected a finite number > 0, got 0")
        expect((yield* invalid({ tokensPerMinute: -5 })).field).toBe("tokensPerMinute")
        expect((yield* invalid({ requestsPerMinute: Number.NaN })).field).toBe("requestsPerMinute")
        expect((yield* invalid({ maxConcurrency: 0 })).field).toBe("maxConcurrency")
        expect((yield* invalid({ maxConcurrency: 2.5 })).field).toBe("maxConcurrency")
        expect((yield* invalid({ maxQueued: -1 })).field).toBe("maxQueued")
        expect((yield* invalid({ burst: 0 })).field).toBe("burst")
        expect((yield* invalid({ defaultMaxQueueWait: 0 })).field).toBe("defaultMaxQueueWait")
        expect((yield* invalid({ adaptive: { beta: 1 } })).field).toBe("adaptive.beta")
        expect((yield* invalid({ adaptive: { initialRate: -1 } })).field).toBe("adaptive.initialRate")
      })
    )

    it.effect("rejects requestsPerSecond and requestsPerMinute together", () =>
      Effect.gen(function* () {
        const both = yield* invalid({ requestsPerSecond: 1, requestsPerMinute: 60 })
        expect(both.field).toBe("requestsPerMinute")
        expect(both.message).toContain("to be absent when requestsPerSecond is given")
      })
    )

    it.effect("builds with no options at all (adaptive) and with layerUnlimited", () =>
      Effect.gen(function* () {
        const adaptive = yield* Effect.scoped(
          Effect.flatMap(RateLimiter.RateLimiter, (service) => service.snapshot).pipe(
            Effect.provide(RateLimiter.layer())
          )
        )
        expect(adaptive).toEqual({ queued: 0, inFlight: 0, holdUntilMillis: 0, rates: {} })
        const unlimited = yield* Effect.scoped(
          Effect.gen(function* () {
            const service = yield* RateLimiter.RateLimiter
            yield* service.acquire(ticket())
            return yield* service.snapshot
          }).pipe(Effect.provide(RateLimiter.layerUnlimited))
        )
        expect(unlimited).toEqual({ queued: 0, inFlight: 0, holdUntilMillis: 0 })
      })
    )
  })
})
