import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type { Rejected } from "../src/GrokError.js"
import * as MemoryStore from "../src/MemoryStore.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as RateLimiterStore from "../src/RateLimiterStore.js"
import { admitAndRecord, holdPermit, labels, quiesce, quotaOut, rejection, ticket } from "./RateLimiterSupport.js"

/** A memory store whose first `times` reserves answer with `broken` instead. */
const failingFirst = (
  times: number,
  broken: () => Effect.Effect<RateLimiterStore.Reservation, RateLimiterStore.RateLimiterStoreError>
) =>
  Effect.map(MemoryStore.make, (memory): RateLimiterStore.Service => {
    let left = times
    return { ...memory, reserve: (request) => (left-- > 0 ? broken() : memory.reserve(request)) }
  })

describe("RateLimiter review fixes", () => {
  describe("budget keys do not block each other", () => {
    it.scoped("admits another model's waiter during one model's cooldown", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10 })
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket({ model: "a" })), (permit) =>
            permit.report({ status: 429, info: quotaOut(10_000) })
          )
        )
        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(limiter, log, "a", { model: "a" })
        yield* admitAndRecord(limiter, log, "b", { model: "b" })
        yield* TestClock.adjust("20 seconds")
        expect(log).toEqual([
          ["b", 0],
          ["a", 10_000]
        ])
      })
    )

    it.scoped("admits another model's waiter while the store refuses the head's budget", () =>
      Effect.gen(function* () {
        // One token per millisecond: the first call of model a empties its bucket for a second.
        const limiter = yield* RateLimiter.make({ tokensPerMinute: 61_000, tokenBurst: 1000 })
        const log: Array<readonly [string, number]> = []
        const spent = (model: string) =>
          [
            { model, estimatedTokens: 1000 },
            { status: 200, info: {}, usedTokens: 1000 }
          ] as const
        yield* admitAndRecord(limiter, log, "a-1", ...spent("a"))
        yield* admitAndRecord(limiter, log, "a-2", ...spent("a"))
        yield* admitAndRecord(limiter, log, "b-1", ...spent("b"))
        yield* TestClock.adjust("5 seconds")
        expect(log).toEqual([
          ["a-1", 0],
          ["b-1", 0],
          ["a-2", 1000]
        ])
      })
    )

    it.scoped("keeps priorities across keys and within a key while skipping a held key", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 1000, burst: 1, maxConcurrency: 1 })
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket({ model: "a" })), (permit) =>
            permit.report({ status: 429, info: quotaOut(10_000) })
          )
        )
        const holder = yield* holdPermit(limiter, { model: "x" })
        yield* quiesce
        const log: Array<readonly [string, number]> = []
        const arrivals: ReadonlyArray<readonly [string, string, RateLimiter.Priority]> = [
          ["a-normal", "a", "normal"],
          ["b-low", "b", "low"],
          ["a-critical", "a", "critical"],
          ["c-high", "c", "high"],
          ["b-normal", "b", "normal"]
        ]
        for (const [label, model, priority] of arrivals) {
          yield* admitAndRecord(limiter, log, label, { model, priority })
          yield* quiesce
        }
        yield* Deferred.succeed(holder.release, void 0)
        yield* TestClock.adjust("20 seconds")
        expect(log).toEqual([
          ["c-high", 0],
          ["b-normal", 0],
          ["b-low", 1],
          ["a-critical", 10_000],
          ["a-normal", 10_001]
        ])
      })
    )

    it.scoped("never lets a later waiter of the same key pass one the store refused", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ tokensPerMinute: 61_000, tokenBurst: 1000 })
        const log: Array<readonly [string, number]> = []
        const spent = (estimatedTokens: number) =>
          [{ estimatedTokens }, { status: 200, info: {}, usedTokens: estimatedTokens }] as const
        yield* admitAndRecord(limiter, log, "first", ...spent(900))
        yield* admitAndRecord(limiter, log, "big", ...spent(1000))
        // It would fit at once (100 tokens are left), but its key's earlier waiter goes first.
        yield* admitAndRecord(limiter, log, "small", ...spent(100))
        yield* TestClock.adjust("5 seconds")
        expect(labels(log)).toEqual(["first", "big", "small"])
      })
    )

    it.scoped("paces the waiters of a free key queued behind 10,000 of a held key", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 1000, burst: 1, maxQueued: 20_000 })
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket({ model: "a" })), (permit) =>
            permit.report({ status: 429, info: quotaOut(10_000) })
          )
        )
        const held = yield* Effect.forEach(Array.from({ length: 10_000 }), () =>
          Effect.fork(Effect.scoped(limiter.acquire(ticket({ model: "a" }))))
        )
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 100; i++) yield* admitAndRecord(limiter, log, `b-${i}`, { model: "b" })
        yield* TestClock.adjust("1 second")
        expect(log.length).toBe(100)
        expect(log[99]).toEqual(["b-99", 99])
        expect(yield* limiter.snapshot).toMatchObject({ queued: 10_000 })
        yield* Fiber.interruptAll(held)
      })
    )
  })

  describe("a failing store or round never stops the dispatcher", () => {
    const dies = () => Effect.die(new Error("store bug"))

    it.scoped("admits through the local fallback when the store's reserve dies", () =>
      Effect.gen(function* () {
        const store = yield* failingFirst(1, dies)
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store })
        const first = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        yield* quiesce
        expect(Option.map(yield* Fiber.poll(first), Exit.isSuccess)).toEqual(Option.some(true))
        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(limiter, log, "later")
        yield* TestClock.adjust("1 second")
        expect(log.length).toBe(1)
      })
    )

    it.scoped("rejects with LimiterUnavailable when the store's reserve dies and onStoreError is reject", () =>
      Effect.gen(function* () {
        const store = yield* failingFirst(1, dies)
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store, onStoreError: "reject" })
        const first = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        yield* quiesce
        expect(Option.map(yield* Fiber.poll(first), rejection)).toEqual(Option.some("LimiterUnavailable"))
        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(limiter, log, "later")
        yield* TestClock.adjust("1 second")
        expect(log).toEqual([["later", 0]])
      })
    )

    it.scoped("fails the waiter whose round died, logs it, and keeps admitting", () =>
      Effect.gen(function* () {
        const lines: Array<string> = []
        const logger = Logger.make((options) => {
          lines.push(Logger.logfmtLogger.log(options))
        })
        // A malformed answer throws inside the dispatcher's round, past the store's own guard.
        const store = yield* failingFirst(1, () => Effect.succeed(null as unknown as RateLimiterStore.Reservation))
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store }).pipe(
          Effect.provide(Logger.replace(Logger.defaultLogger, logger))
        )
        const first = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        const second = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        yield* quiesce
        expect(Option.map(yield* Fiber.poll(first), rejection)).toEqual(Option.some("LimiterUnavailable"))
        expect(lines.filter((line) => line.includes("dispatcher failed")).length).toBe(1)
        yield* TestClock.adjust("1 second")
        expect(Option.map(yield* Fiber.poll(second), Exit.isSuccess)).toEqual(Option.some(true))
      })
    )
  })

  describe("fail-closed store outages", () => {
    it.scoped("rejects every queued waiter of the key after one store timeout, not one per timeout", () =>
      Effect.gen(function* () {
        const blackholed: RateLimiterStore.Service = {
          ...(yield* MemoryStore.make),
          reserve: () =>
            Effect.zipRight(
              Effect.sleep("5 seconds"),
              Effect.fail(new RateLimiterStore.RateLimiterStoreError({ operation: "reserve", detail: "timeout" }))
            )
        }
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10, store: blackholed, onStoreError: "reject" })
        const outcome = (fiber: Fiber.RuntimeFiber<unknown, Rejected>) =>
          Effect.map(Fiber.poll(fiber), (exit) => (Option.isSome(exit) ? rejection(exit.value) : "still waiting"))
        const waiters = yield* Effect.forEach(Array.from({ length: 1000 }), () =>
          Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        )
        const otherKey = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket({ model: "other" }))))
        yield* quiesce
        yield* TestClock.adjust("5 seconds")
        for (const waiter of waiters) expect(yield* outcome(waiter)).toBe("LimiterUnavailable")
        // Only the failing key's waiters go at once: another key gets its own answer from the store.
        expect(yield* outcome(otherKey)).toBe("still waiting")
        yield* TestClock.adjust("5 seconds")
        expect(yield* outcome(otherKey)).toBe("LimiterUnavailable")
        expect(yield* limiter.snapshot).toMatchObject({ queued: 0, inFlight: 0 })
      })
    )
  })
})
