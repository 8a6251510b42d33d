import { describe, expect, it } from "@effect/vitest"
import { Clock, Effect, Either, Exit, Fiber, Random, Ref, Schedule, Stream, TestClock } from "effect"
import * as FastCheck from "effect/FastCheck"
import * as CircuitBreaker from "../src/CircuitBreaker.js"

const KEY = "https://api.x.ai/v1|grok-4"

/** Breaks of 1, 2, 4, ... seconds: the timings these tests of the probe's mechanics are written in. */
const fromOneSecond = { breakSchedule: Schedule.exponential("1 second") }

const call = (breaker: CircuitBreaker.Service, outcome: CircuitBreaker.Outcome, maxWaitMillis = 0) =>
  Effect.scoped(Effect.flatMap(breaker.admit(KEY, { maxWaitMillis }), (pass) => pass.report(outcome)))

/** Opens the breaker at the current instant with five failures. */
const trip = (breaker: CircuitBreaker.Service) => Effect.repeatN(call(breaker, "failure"), 4)

/**
 * Subscribes to the transitions; the effect returned reads every transition so far, in order, once the subscriber
 * (a fiber of its own) has caught up.
 */
const recording = (breaker: CircuitBreaker.Service) =>
  Effect.gen(function* () {
    const seen: Array<CircuitBreaker.Transition> = []
    yield* Effect.forkScoped(Stream.runForEach(breaker.transitions, (t) => Effect.sync(() => seen.push(t))))
    yield* Effect.yieldNow()
    return Effect.zipRight(
      Effect.repeatN(Effect.yieldNow(), 3),
      Effect.sync(() => [...seen])
    )
  })

/** Admits a caller that holds its pass (never reports) until interrupted; resolves once it is admitted. */
const holdProbe = (breaker: CircuitBreaker.Service) =>
  Effect.gen(function* () {
    const admitted = yield* Ref.make<CircuitBreaker.Pass | undefined>(undefined)
    const fiber = yield* Effect.fork(
      Effect.scoped(
        Effect.flatMap(breaker.admit(KEY, { maxWaitMillis: 0 }), (pass) =>
          Effect.zipRight(Ref.set(admitted, pass), Effect.never)
        )
      )
    )
    yield* Effect.yieldNow()
    const pass = yield* Ref.get(admitted)
    expect(pass?.probe).toBe(true)
    return { fiber, pass: pass! }
  })

const refusal = <A>(exit: Exit.Exit<A, CircuitBreaker.CircuitOpenError>) =>
  Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined

describe("CircuitBreaker, open and half-open", () => {
  it.scoped("fails at once while open when the break outlasts maxWait, with the time until the probe", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      yield* trip(breaker)
      yield* TestClock.adjust("300 millis")
      const before = yield* Clock.currentTimeMillis
      const error = yield* Effect.flip(call(breaker, "success", 500))
      expect(yield* Clock.currentTimeMillis).toBe(before)
      expect(error).toBeInstanceOf(CircuitBreaker.CircuitOpenError)
      expect(error._tag).toBe("CircuitOpen")
      expect(error.retryAfterMillis).toBe(700)
      expect(error.key).toBe(KEY)
      expect(error.message).toContain("700 ms")
    })
  )

  it.scoped("turns half-open after the break: the first caller is the probe and its success closes", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      yield* trip(breaker)
      yield* TestClock.adjust("999 millis")
      expect(Either.isLeft(yield* Effect.either(call(breaker, "success")))).toBe(true)
      yield* TestClock.adjust("1 millis")
      const probe = yield* holdProbe(breaker)
      expect(yield* breaker.state(KEY)).toBe("HalfOpen")
      yield* probe.pass.report("success")
      expect(yield* breaker.state(KEY)).toBe("Closed")
      yield* Fiber.interrupt(probe.fiber)
      const pass = yield* Effect.scoped(breaker.admit(KEY, { maxWaitMillis: 0 }))
      expect(pass.probe).toBe(false)
    })
  )

  it.scoped("admits exactly one probe among 20 waiters and releases all of them at once on its success", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      yield* trip(breaker)
      const admitted: Array<{ readonly at: number; readonly probe: boolean }> = []
      const waiter = Effect.scoped(
        Effect.gen(function* () {
          const pass = yield* breaker.admit(KEY, { maxWaitMillis: 10_000 })
          admitted.push({ at: yield* Clock.currentTimeMillis, probe: pass.probe })
          if (pass.probe) yield* Effect.sleep("300 millis")
          yield* pass.report("success")
        })
      )
      const fibers = yield* Effect.forEach(Array.from({ length: 20 }), () => Effect.fork(waiter))
      yield* TestClock.adjust("1 second")
      expect(admitted).toEqual([{ at: 1000, probe: true }])
      yield* TestClock.adjust("299 millis")
      expect(admitted.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.joinAll(fibers)
      expect(admitted.length).toBe(20)
      expect(admitted.slice(1).every((a) => a.at === 1300 && !a.probe)).toBe(true)
    })
  )

  it.scoped("grows the break along the default schedule while probes fail: 0.5 s ten times, then 1, 2, 4 … 30 s", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const seen = yield* recording(breaker)
      yield* trip(breaker)
      const quick = Array.from({ length: 10 }, () => 500)
      for (const breakMillis of [...quick, 1000, 2000, 4000, 8000, 16_000, 30_000]) {
        yield* TestClock.adjust(breakMillis - 1)
        expect((yield* Effect.flip(call(breaker, "failure"))).retryAfterMillis).toBe(1)
        yield* TestClock.adjust(1)
        yield* call(breaker, "failure")
      }
      const opened = (yield* seen).filter((t) => t.to === "Open").map((t) => t.breakMillis)
      expect(opened).toEqual([...quick, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
    })
  )

  it.scoped("follows a custom breakSchedule, jitter included, and starts again from its first step after closing", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        breakSchedule: Schedule.exponential("1 second").pipe(Schedule.jittered)
      })
      const seen = yield* recording(breaker)
      const cycle = Effect.gen(function* () {
        yield* trip(breaker)
        for (let probe = 0; probe < 3; probe++) {
          yield* TestClock.adjust("10 seconds")
          yield* call(breaker, probe < 2 ? "failure" : "success")
        }
      })
      yield* Effect.repeatN(cycle, 1).pipe(Effect.withRandom(Random.make(7)))
      const breaks = (yield* seen).filter((t) => t.to === "Open").map((t) => t.breakMillis!)
      expect(breaks.length).toBe(6)
      breaks.forEach((b, i) => {
        const nominal = 1000 * 2 ** (i % 3)
        expect(b).toBeGreaterThanOrEqual(0.8 * nominal)
        expect(b).toBeLessThan(1.2 * nominal)
      })
      expect(new Set(breaks).size).toBe(6)
    })
  )

  it.scoped("fails a waiter when a failed probe starts a break past its maxWait, and keeps the others", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      yield* trip(breaker)
      yield* TestClock.adjust("1 second")
      const probe = yield* holdProbe(breaker)
      const short = yield* Effect.fork(Effect.exit(call(breaker, "success", 1500)))
      const long = yield* Effect.fork(Effect.scoped(breaker.admit(KEY, { maxWaitMillis: 10_000 })))
      yield* TestClock.adjust("100 millis")
      yield* probe.pass.report("failure")
      yield* Effect.yieldNow()
      // The next probe may start at 1100 + 2000 = 3100, after the short waiter's deadline (2500).
      const shortExit = yield* Fiber.join(short)
      expect(refusal(shortExit)?.retryAfterMillis).toBe(2000)
      expect(yield* Clock.currentTimeMillis).toBe(1100)
      yield* TestClock.adjust("1999 millis")
      expect((yield* Fiber.poll(long))._tag).toBe("None")
      yield* TestClock.adjust("1 millis")
      const pass = yield* Fiber.join(long)
      expect(pass.probe).toBe(true)
    })
  )

  it.scoped(
    "fails a waiter whose maxWait ends while the probe is out, with the break a failing probe would start",
    () =>
      Effect.gen(function* () {
        const breaker = yield* CircuitBreaker.make(fromOneSecond)
        yield* trip(breaker)
        yield* TestClock.adjust("1 second")
        yield* holdProbe(breaker)
        const waiter = yield* Effect.fork(Effect.exit(call(breaker, "success", 200)))
        yield* TestClock.adjust("199 millis")
        expect((yield* Fiber.poll(waiter))._tag).toBe("None")
        yield* TestClock.adjust("1 millis")
        expect(refusal(yield* Fiber.join(waiter))?.retryAfterMillis).toBe(2000)
      })
  )

  it.scoped("waits by default until the next probe's verdict is due", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ ...fromOneSecond, probeTimeout: "5 seconds" })
      yield* trip(breaker)
      yield* TestClock.adjust("1 second")
      yield* holdProbe(breaker)
      const waiter = yield* Effect.fork(Effect.exit(Effect.scoped(breaker.admit(KEY))))
      yield* TestClock.adjust("4999 millis")
      expect((yield* Fiber.poll(waiter))._tag).toBe("None")
      yield* TestClock.adjust("1 millis")
      // The silent probe timed out at 6000 and counts as failed: the next break is 2 s.
      expect(refusal(yield* Fiber.join(waiter))?.retryAfterMillis).toBe(2000)
    })
  )

  it.scoped("frees the probe slot when the probe is interrupted without a report", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      const seen = yield* recording(breaker)
      yield* trip(breaker)
      yield* TestClock.adjust("1 second")
      const probe = yield* holdProbe(breaker)
      const next = yield* Effect.fork(Effect.scoped(breaker.admit(KEY, { maxWaitMillis: 10_000 })))
      yield* TestClock.adjust("200 millis")
      expect((yield* Fiber.poll(next))._tag).toBe("None")
      yield* Fiber.interrupt(probe.fiber)
      const pass = yield* Fiber.join(next)
      expect(pass.probe).toBe(true)
      expect(yield* Clock.currentTimeMillis).toBe(1200)
      expect(yield* breaker.state(KEY)).toBe("HalfOpen")
      expect((yield* seen).map((t) => t.to)).toEqual(["Open", "HalfOpen"])
    })
  )

  it.scoped("counts a probe silent past probeTimeout as failed and ignores its late report", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ ...fromOneSecond, probeTimeout: "5 seconds" })
      const seen = yield* recording(breaker)
      yield* trip(breaker)
      yield* TestClock.adjust("1 second")
      const probe = yield* holdProbe(breaker)
      yield* TestClock.adjust("4999 millis")
      expect(yield* breaker.state(KEY)).toBe("HalfOpen")
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.state(KEY)).toBe("Open")
      yield* probe.pass.report("success")
      expect(yield* breaker.state(KEY)).toBe("Open")
      expect((yield* Effect.flip(call(breaker, "success"))).retryAfterMillis).toBe(2000)
      expect((yield* seen).at(-1)).toEqual({
        key: KEY,
        from: "HalfOpen",
        to: "Open",
        atMillis: 6000,
        breakMillis: 2000
      })
    })
  )

  it.scoped("does not let a call admitted before the break close it", () =>
    Effect.gen(function* () {
      // Without the cold-start hold, which would keep the fifth failure of `trip` waiting behind `early`.
      const breaker = yield* CircuitBreaker.make({ ...fromOneSecond, coldStart: false })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const early = yield* breaker.admit(KEY)
          yield* trip(breaker)
          yield* early.report("success")
        })
      )
      expect(yield* breaker.state(KEY)).toBe("Open")
    })
  )

  it.scoped("publishes every transition with its key, statuses and instant", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(fromOneSecond)
      const seen = yield* recording(breaker)
      yield* trip(breaker)
      yield* TestClock.adjust("1 second")
      const failing = yield* holdProbe(breaker)
      yield* TestClock.adjust("100 millis")
      yield* failing.pass.report("failure")
      yield* TestClock.adjust("2 seconds")
      const closing = yield* holdProbe(breaker)
      yield* TestClock.adjust("100 millis")
      yield* closing.pass.report("success")
      expect(yield* seen).toEqual([
        { key: KEY, from: "Closed", to: "Open", atMillis: 0, breakMillis: 1000 },
        { key: KEY, from: "Open", to: "HalfOpen", atMillis: 1000 },
        { key: KEY, from: "HalfOpen", to: "Open", atMillis: 1100, breakMillis: 2000 },
        { key: KEY, from: "Open", to: "HalfOpen", atMillis: 3100 },
        { key: KEY, from: "HalfOpen", to: "Closed", atMillis: 3200 }
      ])
    })
  )

  it.effect.prop(
    "never lets two probes out at once, with 100 fibers admitting, reporting, giving up and being interrupted",
    [FastCheck.integer()],
    ([seed]) =>
      Effect.scoped(
        Effect.gen(function* () {
          // Breaks of 0 ms: every verdict is followed at once by the next probe, so the slot changes hands as
          // often as possible, and the run needs no clock (a waiter only ever waits for a verdict).
          const breaker = yield* CircuitBreaker.make({ consecutiveFailures: 2, breakSchedule: Schedule.spaced(0) })
          const seen = yield* recording(breaker)
          let out = 0
          let mostOut = 0
          let probes = 0
          const busy = Effect.flatMap(Random.nextIntBetween(0, 6), (n) => Effect.repeatN(Effect.yieldNow(), n))
          const attempt = (maxWaitMillis: number) =>
            Effect.scoped(
              Effect.gen(function* () {
                const pass = yield* breaker.admit(KEY, { maxWaitMillis })
                if (pass.probe) {
                  probes++
                  out++
                  mostOut = Math.max(mostOut, out)
                }
                // Leave the count before the verdict or the closing scope frees the slot for the next probe.
                const leave = Effect.sync(() => {
                  if (pass.probe) out--
                })
                const draw = yield* Effect.zipRight(busy, Random.nextIntBetween(0, 10)).pipe(Effect.ensuring(leave))
                const outcome = draw < 5 ? "failure" : draw < 8 ? "success" : draw < 9 ? "ignored" : undefined
                if (outcome !== undefined) yield* pass.report(outcome)
              })
            )
          const round = Effect.gen(function* () {
            const maxWaitMillis = (yield* Random.nextBoolean) ? 0 : 60_000
            if (yield* Random.nextBoolean) return yield* Effect.exit(attempt(maxWaitMillis))
            const fiber = yield* Effect.fork(attempt(maxWaitMillis))
            yield* busy
            return yield* Fiber.interrupt(fiber)
          })
          const fibers = yield* Effect.forEach(Array.from({ length: 100 }), () => Effect.fork(Effect.repeatN(round, 9)))
          yield* Fiber.joinAll(fibers)
          expect(mostOut).toBe(1)
          expect(probes).toBeGreaterThan(10)
          const transitions = yield* seen
          expect(transitions.length).toBeGreaterThan(20)
          transitions.slice(1).forEach((t, i) => expect(t.from).toBe(transitions[i]!.to))
        })
      ).pipe(Effect.withRandom(Random.make(seed))),
    { fastCheck: { numRuns: 4 } }
  )
})
