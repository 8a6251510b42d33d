import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule, Stream, Fiber, Chunk } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import type * as GrokError from "../src/GrokError.js"
import { outageUntil, runCalls, BASE_URL } from "./support/virtualGrok.js"

const failures = (sent: ReadonlyArray<{ readonly status: number }>) => sent.filter((s) => s.status !== 200).length
const lastSent = (sent: ReadonlyArray<{ readonly atMillis: number }>) => Math.max(...sent.map((s) => s.atMillis))

describe("the breaker stage", () => {
  it.effect("a 5 s outage, 100 calls at concurrency 20: 100 ok, 20 failed first sends and 1 failed probe", () =>
    Effect.gen(function* () {
      const { ok, sent } = yield* runCalls({ calls: 100, concurrency: 20, plan: { down: outageUntil(5_000) } })
      expect(ok.length).toBe(100)
      // The first wave is sent before any failure is known; the default breaks (2, 4 s) probe at 2 and 6 s.
      expect(failures(sent)).toBe(21)
      expect(
        sent
          .filter((s) => s.status !== 200)
          .map((s) => s.atMillis)
          .slice(20)
      ).toEqual([2_000])
      expect(sent.length).toBe(121)
      // Every waiter goes at the instant the probe succeeds: no backoff left to sleep off.
      expect(lastSent(sent)).toBe(6_000)
    })
  )

  it.effect("breaks of a constant 1 s release the same outage at its end, for 4 failed probes", () =>
    Effect.gen(function* () {
      const { ok, sent } = yield* runCalls({
        calls: 100,
        concurrency: 20,
        plan: { down: outageUntil(5_000) },
        options: { breaker: { breakSchedule: Schedule.spaced("1 second") } }
      })
      expect(ok.length).toBe(100)
      expect(failures(sent)).toBe(24)
      expect(lastSent(sent)).toBe(5_000)
    })
  )

  it.effect("without a breaker the same outage costs every call its own retries", () =>
    Effect.gen(function* () {
      const { ok, sent } = yield* runCalls({
        calls: 100,
        concurrency: 20,
        plan: { down: outageUntil(5_000) },
        options: { breaker: false, retryBudget: false }
      })
      expect(ok.length).toBe(100)
      expect(failures(sent)).toBeGreaterThan(100)
    })
  )

  it.effect("a 30 s outage with an 8 s deadline: every call fails typed, at most 1.3 requests per call", () =>
    Effect.gen(function* () {
      const { failed, sent } = yield* runCalls({
        calls: 100,
        concurrency: 20,
        plan: { down: outageUntil(30_000) },
        options: { deadline: "8 seconds" }
      })
      expect(failed.length).toBe(100)
      const reasons = new Set(failed.map((error) => (error._tag === "Rejected" ? error.reason : error._tag)))
      expect([...reasons].every((reason) => reason === "CircuitOpen" || reason === "DeadlineExceeded")).toBe(true)
      expect(sent.length).toBeLessThanOrEqual(130)
      // 20 first sends, then the probes at 2, 6 and 14 s (breaks of 2, 4 and 8 s); the next break, to 30 s, outlasts
      // every deadline left, and the calls fail at once.
      expect(sent.slice(20).map((s) => s.atMillis)).toEqual([2_000, 6_000, 14_000])
    })
  )

  it.effect("a call that cannot wait for the probe fails at once with CircuitOpen and when the probe may start", () =>
    Effect.gen(function* () {
      const { failed, sent } = yield* runCalls({
        calls: 8,
        concurrency: 8,
        plan: { down: outageUntil(60_000) },
        options: { maxQueueWait: "200 millis" },
        advance: "1 minute"
      })
      expect(sent.length).toBe(8)
      const open = failed.filter((error): error is GrokError.Rejected => error._tag === "Rejected")
      expect(open.length).toBe(8)
      expect(open.every((error) => error.reason === "CircuitOpen")).toBe(true)
      const waits = open.map((error) => error.retryAfterMillis!)
      expect(Math.max(...waits)).toBeLessThanOrEqual(2_000)
      expect(Math.min(...waits)).toBeGreaterThan(1_750)
      expect(open[0]!.message).toContain("Circuit open")
    })
  )

  it.scoped("validation, key and quota errors never open the breaker", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const { failed, sent } = yield* runCalls({
        calls: 30,
        concurrency: 10,
        plan: { keys: ["someone-else"] },
        around: Layer.succeed(CircuitBreaker.CircuitBreaker, breaker)
      })
      expect(failed.every((error) => error._tag === "AuthError")).toBe(true)
      expect(sent.length).toBe(30)
      expect(yield* breaker.state(`${BASE_URL}|grok-4`)).toBe("Closed")
    })
  )

  it.effect("a breaker in the call's context is the one used, per model at the client's base URL", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const seen = yield* Effect.fork(Stream.runCollect(Stream.take(breaker.transitions, 3)))
      const { ok } = yield* runCalls({
        calls: 20,
        concurrency: 20,
        plan: { down: outageUntil(500) },
        around: Layer.succeed(CircuitBreaker.CircuitBreaker, breaker)
      })
      expect(ok.length).toBe(20)
      const transitions = Chunk.toReadonlyArray(yield* Fiber.join(seen))
      expect(transitions.map((t) => `${t.from}→${t.to}`)).toEqual(["Closed→Open", "Open→HalfOpen", "HalfOpen→Closed"])
      expect(transitions.every((t) => t.key === `${BASE_URL}|grok-4`)).toBe(true)
    }).pipe(Effect.scoped)
  )
})
