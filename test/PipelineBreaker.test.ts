import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule, Stream, Fiber, Chunk } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import type * as GrokError from "../src/GrokError.js"
import { outageUntil, runCalls, BASE_URL } from "./support/virtualGrok.js"

const failures = (sent: ReadonlyArray<{ readonly status: number }>) => sent.filter((s) => s.status !== 200).length
const lastSent = (sent: ReadonlyArray<{ readonly atMillis: number }>) => Math.max(...sent.map((s) => s.atMillis))

describe("the breaker stage", () => {
  it.effect("a 5 s outage, 100 calls at concurrency 20: 100 ok, 5 failed first sends and 9 failed probes", () =>
    Effect.gen(function* () {
      const { ok, sent } = yield* runCalls({ calls: 100, concurrency: 20, plan: { down: outageUntil(5_000) } })
      expect(ok.length).toBe(100)
      // The cold start lets 5 of the first wave out, and their failures open the breaker before the other 15 go;
      // the default breaks (0.5 s, ten times) probe every 500 ms, and the probe at 5 s finds the service back.
      expect(sent.slice(0, 5).every((s) => s.atMillis === 0 && s.status !== 200)).toBe(true)
      expect(
        sent
          .filter((s) => s.status !== 200)
          .map((s) => s.atMillis)
          .slice(5)
      ).toEqual([500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 4_500])
      expect(sent.length).toBe(114)
      // Every waiter goes at the instant the probe succeeds: no backoff left to sleep off.
      expect(lastSent(sent)).toBe(5_000)
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
      expect(failures(sent)).toBe(9)
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
      // 5 cold sends, then the probes of the default breaks (0.5 s ten times, then 1, 2, 4, 8 s); the next break,
      // of 16 s, outlasts every deadline left, and the calls fail at once.
      expect(sent.slice(5).map((s) => s.atMillis)).toEqual([
        500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 4_500, 5_000, 6_000, 8_000, 12_000, 20_000
      ])
      expect(sent.length).toBe(19)
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
      // The cold start sends 5; their failures open the breaker, and no one can wait out its first 500 ms break.
      expect(sent.length).toBe(5)
      const open = failed.filter((error): error is GrokError.Rejected => error._tag === "Rejected")
      expect(open.length).toBe(8)
      expect(open.every((error) => error.reason === "CircuitOpen")).toBe(true)
      const waits = open.map((error) => error.retryAfterMillis!)
      expect(Math.max(...waits)).toBeLessThanOrEqual(500)
      expect(Math.min(...waits)).toBeGreaterThan(0)
      // The three held back are refused the instant the breaker opens, with the whole break ahead of them.
      expect(waits.filter((wait) => wait === 500).length).toBeGreaterThanOrEqual(3)
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
