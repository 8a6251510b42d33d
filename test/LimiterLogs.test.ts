import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Logger, TestClock } from "effect"
import * as RateLimiter from "../src/RateLimiter.js"
import { quotaOut } from "./RateLimiterSupport.js"

const ticket = (priority: RateLimiter.Priority = "normal"): RateLimiter.Ticket => ({
  priority,
  estimatedTokens: 10,
  model: "grok-4"
})

/** Runs an effect with every log line captured as logfmt text. */
const capturing = <A, E, R>(self: (lines: Array<string>) => Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(Logger.logfmtLogger.log(options))
  })
  return self(lines).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

describe("limiter log lines", () => {
  it.scoped("logs the start and the end of a shared cooldown with its key and length", () =>
    capturing((lines) =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 100 })
        yield* Effect.scoped(
          Effect.flatMap(limiter.acquire(ticket()), (permit) => permit.report({ status: 429, info: quotaOut(2000) }))
        )
        const waiting = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket())))
        yield* TestClock.adjust("1999 millis")
        expect(lines.filter((l) => l.includes("cooldown ended"))).toEqual([])
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(waiting)
        const started = lines.filter((l) => l.includes("cooldown started"))
        expect(started.length).toBe(1)
        expect(started[0]).toContain("cooldownMillis=2000")
        expect(started[0]).toContain("key=grok:grok-4")
        expect(lines.filter((l) => l.includes("cooldown ended")).length).toBe(1)
      })
    )
  )

  it.scoped("logs each call shed from a full queue", () =>
    capturing((lines) =>
      Effect.gen(function* () {
        const limiter = yield* RateLimiter.make({ requestsPerSecond: 1, maxQueued: 2 })
        yield* Effect.scoped(limiter.acquire(ticket()))
        const queued = yield* Effect.forEach([1, 2], () => Effect.fork(Effect.scoped(limiter.acquire(ticket("low")))))
        yield* TestClock.adjust("1 millis")
        const critical = yield* Effect.fork(Effect.scoped(limiter.acquire(ticket("critical"))))
        yield* TestClock.adjust("1 millis")
        expect(lines.filter((l) => l.includes("shedding")).length).toBe(1)
        expect(lines.find((l) => l.includes("shedding"))).toContain("priority=critical")
        yield* TestClock.adjust("10 seconds")
        yield* Fiber.join(critical)
        const outcomes = yield* Effect.forEach(queued, Fiber.await)
        expect(outcomes.filter(Exit.isFailure).length).toBe(1)
      })
    )
  )
})
