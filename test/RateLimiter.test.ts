import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as RateLimiter from "../src/RateLimiter.js"
import {
  admitAndRecord,
  holdPermit,
  labels,
  quiesce,
  quotaOut,
  rejection,
  ticket,
  times
} from "./RateLimiterSupport.js"

describe("RateLimiter", () => {
  describe("pacing", () => {
    it.scoped("spaces a steady stream evenly at the configured rate", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 10 })
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 6; i++) yield* admitAndRecord(limiter, log, `c${i}`)
        yield* TestClock.adjust("2 seconds")
        expect(times(log)).toEqual([0, 100, 200, 300, 400, 500])
      })
    )

    it.scoped("lets a burst through at once, then paces, and refills while idle", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 20, burst: 3 })
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 5; i++) yield* admitAndRecord(limiter, log, `a${i}`)
        yield* TestClock.adjust("1 second")
        expect(times(log)).toEqual([0, 0, 0, 50, 100])
        log.length = 0
        yield* TestClock.adjust("1 second")
        for (let i = 0; i < 5; i++) yield* admitAndRecord(limiter, log, `b${i}`)
        yield* TestClock.adjust("1 second")
        expect(times(log)).toEqual([2000, 2000, 2000, 2050, 2100])
      })
    )

    it.scoped("never lets more than burst + window / interval through in any window", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerMinute: 1200, burst: 5 })
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 60; i++) yield* admitAndRecord(limiter, log, `c${i}`)
        yield* TestClock.adjust("10 seconds")
        const at = times(log)
        expect(at).toHaveLength(60)
        for (const start of at) {
          const inWindow = at.filter((t) => t >= start && t < start + 1000).length
          expect(inWindow).toBeLessThanOrEqual(5 + 1000 / 50)
        }
        expect(at[59]).toBe((59 - 4) * 50)
      })
    )

    it.scoped("caps the calls in flight at maxConcurrency", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ maxConcurrency: 2, adaptive: false })
        const first = yield* holdPermit(limiter)
        const second = yield* holdPermit(limiter)
        const third = yield* holdPermit(limiter)
        yield* quiesce
        expect(yield* limiter.snapshot).toMatchObject({ inFlight: 2, queued: 1 })
        expect(Option.isNone(yield* Deferred.poll(third.admitted))).toBe(true)
        yield* Deferred.succeed(first.release, void 0)
        yield* quiesce
        expect(Option.isSome(yield* Deferred.poll(third.admitted))).toBe(true)
        yield* Deferred.succeed(second.release, void 0)
        yield* Deferred.succeed(third.release, void 0)
        yield* quiesce
        expect(yield* limiter.snapshot).toMatchObject({ inFlight: 0, queued: 0 })
      })
    )

    it.scoped("keeps one budget per model unless perModel is false", () =>
      Effect.gen(function* () {
        const perModel = yield* RateLimiter.make({ requestsPerSecond: 1 })
        const log: Array<readonly [string, number]> = []
        yield* admitAndRecord(perModel, log, "grok-4", { model: "grok-4" })
        yield* admitAndRecord(perModel, log, "grok-3-mini", { model: "grok-3-mini" })
        yield* TestClock.adjust("2 seconds")
        expect(log).toEqual([
          ["grok-4", 0],
          ["grok-3-mini", 0]
        ])
        const shared = yield* RateLimiter.make({ requestsPerSecond: 1, perModel: false })
        log.length = 0
        yield* admitAndRecord(shared, log, "grok-4", { model: "grok-4" })
        yield* admitAndRecord(shared, log, "grok-3-mini", { model: "grok-3-mini" })
        yield* TestClock.adjust("2 seconds")
        expect(log).toEqual([
          ["grok-4", 2000],
          ["grok-3-mini", 3000]
        ])
      })
    )
  })

  describe("priorities", () => {
    it.scoped("admits higher classes first and each class in arrival order", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ maxConcurrency: 1, adaptive: false })
        const holder = yield* holdPermit(limiter)
        yield* quiesce
        const log: Array<readonly [string, number]> = []
        const arrivals: ReadonlyArray<readonly [string, RateLimiter.Priority]> = [
          ["low-1", "low"],
          ["normal-1", "normal"],
          ["high-1", "high"],
          ["critical-1", "critical"],
          ["normal-2", "normal"],
          ["low-2", "low"],
          ["high-2", "high"]
        ]
        for (const [label, priority] of arrivals) {
          yield* admitAndRecord(limiter, log, label, { priority })
          yield* quiesce
        }
        expect((yield* limiter.snapshot).queued).toBe(7)
        yield* Deferred.succeed(holder.release, void 0)
        yield* quiesce
        expect(labels(log)).toEqual(["critical-1", "high-1", "high-2", "normal-1", "normal-2", "low-1", "low-2"])
      })
    )

    it.scoped("takes the priority from withPriority when building a ticket", () =>
      Effect.gen(function* () {
        const request = { model: "grok-4", messages: [{ role: "user" as const, content: "x".repeat(400) }] }
        const plain = yield* RateLimiter.ticket(request)
        const urgent = yield* RateLimiter.ticket(request).pipe(RateLimiter.withPriority("critical"))
        const explicit = yield* RateLimiter.ticket(request, { priority: "low", maxQueueWait: "2 seconds" }).pipe(
          RateLimiter.withPriority("critical")
        )
        expect(plain).toMatchObject({ priority: "normal", model: "grok-4", estimatedTokens: 100 + 4 + 1024 })
        expect(urgent.priority).toBe("critical")
        expect(explicit.priority).toBe("low")
        expect(explicit.maxQueueWait).toEqual(Duration.seconds(2))
      })
    )
  })

  describe("shedding and deadlines", () => {
    it.scoped("sheds the newest lowest-priority waiter when the queue is full", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ maxConcurrency: 1, maxQueued: 3, adaptive: false })
        const holder = yield* holdPermit(limiter)
        yield* quiesce
        const log: Array<readonly [string, number]> = []
        const a = yield* admitAndRecord(limiter, log, "a", { priority: "normal" })
        const b = yield* admitAndRecord(limiter, log, "b", { priority: "low" })
        const c = yield* admitAndRecord(limiter, log, "c", { priority: "low" })
        yield* quiesce
        const d = yield* admitAndRecord(limiter, log, "d", { priority: "high" })
        yield* quiesce
        expect(rejection(yield* Fiber.await(c))).toBe("QueueFull")
        const e = yield* admitAndRecord(limiter, log, "e", { priority: "low" })
        expect(rejection(yield* Fiber.await(e))).toBe("QueueFull")
        expect((yield* limiter.snapshot).queued).toBe(3)

        yield* Deferred.succeed(holder.release, void 0)
        yield* quiesce
        expect(labels(log)).toEqual(["d", "a", "b"])
        for (const fiber of [a, b, d]) expect(Exit.isSuccess(yield* Fiber.await(fiber))).toBe(true)
      })
    )

    it.scoped("fails a waiter with DeadlineExceeded when its queue wait runs out", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({
          maxConcurrency: 1,
          adaptive: false,
          defaultMaxQueueWait: "3 seconds"
        })
        const holder = yield* holdPermit(limiter)
        yield* quiesce
        const log: Array<readonly [string, number]> = []
        const short = yield* admitAndRecord(limiter, log, "short", { maxQueueWait: Duration.millis(500) })
        const byDefault = yield* admitAndRecord(limiter, log, "default")
        yield* TestClock.adjust(499)
        expect(Option.isNone(yield* Fiber.poll(short))).toBe(true)
        yield* TestClock.adjust(1)
        expect(rejection(yield* Fiber.await(short))).toBe("DeadlineExceeded")
        expect((yield* limiter.snapshot).queued).toBe(1)

        yield* TestClock.adjust(1000)
        yield* Deferred.succeed(holder.release, void 0)
        yield* quiesce
        expect(log).toEqual([["default", 1500]])
        yield* TestClock.adjust("10 seconds")
        expect(Exit.isSuccess(yield* Fiber.await(byDefault))).toBe(true)
      })
    )
  })

  describe("feedback", () => {
    // A lone 429 at a configured rate holds no one (test/RateLimiterLone429.test.ts): these 429s come in a burst.
    it.scoped("holds every caller of the budget after a burst of 429s until its Retry-After ends", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
        const callers = [yield* holdPermit(limiter), yield* holdPermit(limiter), yield* holdPermit(limiter)]
        yield* quiesce
        for (const caller of callers) {
          const permit = yield* Deferred.await(caller.admitted)
          yield* permit.report({ status: 429, info: { retryAfterMillis: 2000 } })
        }
        expect((yield* limiter.snapshot).holdUntilMillis).toBe(2000)
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 3; i++) yield* admitAndRecord(limiter, log, `early${i}`)
        yield* TestClock.adjust(1500)
        yield* admitAndRecord(limiter, log, "late")
        yield* TestClock.adjust(499)
        expect(log).toEqual([])
        yield* TestClock.adjust(1)
        yield* TestClock.adjust(100)
        expect(log).toEqual([
          ["early0", 2000],
          ["early1", 2000],
          ["early2", 2000],
          ["late", 2000]
        ])
        for (const caller of callers) yield* Deferred.succeed(caller.release, void 0)
      })
    )

    it.scoped("holds for cooldownFallback after a burst of 429s that give no wait", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100, cooldownFallback: "750 millis" })
        const log: Array<readonly [string, number]> = []
        for (let i = 0; i < 3; i++) {
          yield* Effect.scoped(
            Effect.flatMap(limiter.acquire(ticket()), (permit) => permit.report({ status: 429, info: {} }))
          )
        }
        yield* admitAndRecord(limiter, log, "next")
        yield* TestClock.adjust("2 seconds")
        expect(log).toEqual([["next", 750]])
      })
    )

    it.scoped("holds for the excess share of the window after a 429 whose body names the limit", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
        const log: Array<readonly [string, number]> = []
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket()), (permit) =>
            permit.report({
              status: 429,
              info: {},
              hint: { kind: "requests", per: "second", actual: 21, limit: 20 }
            })
          )
        )
        yield* admitAndRecord(limiter, log, "next")
        yield* TestClock.adjust("2 seconds")
        expect(log).toEqual([["next", 50]])
      })
    )

    it.scoped("holds sends until the reset when x-ratelimit-remaining reaches 0", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
        const log: Array<readonly [string, number]> = []
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket()), (permit) =>
            permit.report({
              status: 200,
              info: { requests: { limit: 5, remaining: 0, resetMillis: 750 }, tokens: { remaining: 900 } }
            })
          )
        )
        yield* admitAndRecord(limiter, log, "requests")
        yield* TestClock.adjust("2 seconds")
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket()), (permit) =>
            permit.report({ status: 200, info: { tokens: { limit: 1000, remaining: 0, resetMillis: 4000 } } })
          )
        )
        yield* admitAndRecord(limiter, log, "tokens")
        yield* TestClock.adjust("5 seconds")
        expect(log).toEqual([
          ["requests", 750],
          ["tokens", 6000]
        ])
      })
    )

    it.scoped("keeps the longer hold when two 429s overlap", () =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100, maxConcurrency: 10 })
        const one = yield* holdPermit(limiter)
        const two = yield* holdPermit(limiter)
        yield* TestClock.adjust(100)
        const first = yield* Deferred.await(one.admitted)
        const second = yield* Deferred.await(two.admitted)
        yield* first.report({ status: 429, info: quotaOut(3000) })
        yield* second.report({ status: 429, info: quotaOut(1000) })
        expect((yield* limiter.snapshot).holdUntilMillis).toBe(3100)
        yield* Deferred.succeed(one.release, void 0)
        yield* Deferred.succeed(two.release, void 0)
      })
    )
  })
})
