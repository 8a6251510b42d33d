import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Either, Fiber, Random, Ref, TestClock } from "effect"
import * as GrokError from "../src/GrokError.js"
import * as Deadline from "../src/internal/pipeline/deadline.js"
import { retrying } from "../src/internal/pipeline/retry.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"

const transient = new GrokError.Transient({ reason: "ServerError", status: 500 })

const rateLimited = (retryAfterMillis: number) =>
  new GrokError.RateLimited({ status: 429, limit: "requests", retryAfterMillis })

/**
 * Runs an attempt that fails with `errors` in turn, then succeeds, under the client's retry stage (which adds its
 * own rule: non-retryable errors are never retried); returns the result and the waits between.
 */
const runScripted = (
  policy: RetryPolicy.RetryPolicy,
  errors: ReadonlyArray<GrokError.GrokError>,
  budget?: Duration.DurationInput
) =>
  Effect.gen(function* () {
    const deadline = yield* Deadline.start(budget)
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const attempt = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const made = yield* Ref.updateAndGet(times, (ts) => [...ts, now])
      const error = errors[made.length - 1]
      return error === undefined ? "ok" : yield* Effect.fail(error)
    })
    const retried = retrying(
      {
        policy,
        deadline,
        model: "test",
        progress: { attempts: 0 },
        budget: RetryBudget.unlimited,
        heldBack: Effect.succeed(false)
      },
      () => attempt
    )
    const fiber = yield* Effect.fork(Effect.either(retried))
    yield* TestClock.adjust("1 hour")
    const result = yield* Fiber.join(fiber)
    const at = yield* Ref.get(times)
    return { result, attempts: at.length, delays: at.slice(1).map((t, i) => t - at[i]!) }
  })

const failures = (n: number) => Array.from({ length: n }, () => transient)

describe("RetryPolicy", () => {
  it.effect("waits exactly base · factor^n, capped at max, with no jitter", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.attempts(
        RetryPolicy.retryAfterFloor(RetryPolicy.exponential({ base: "100 millis", factor: 2, max: "1 second" })),
        7
      )
      const run = yield* runScripted(policy, failures(6))
      expect(run.result).toEqual(Either.right("ok"))
      expect(run.delays).toEqual([100, 200, 400, 800, 1000, 1000])
    })
  )

  it.effect("keeps full jitter within [0, base · factor^n] and repeats it exactly under one seed", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ base: "100 millis", max: "10 seconds", jitter: "full", maxAttempts: 7 })
      const first = yield* runScripted(policy, failures(6)).pipe(Effect.withRandom(Random.make(42)))
      const again = yield* runScripted(policy, failures(6)).pipe(Effect.withRandom(Random.make(42)))
      const other = yield* runScripted(policy, failures(6)).pipe(Effect.withRandom(Random.make(7)))
      first.delays.forEach((d, n) => {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(100 * 2 ** n)
      })
      expect(again.delays).toEqual(first.delays)
      expect(other.delays).not.toEqual(first.delays)
    })
  )

  it.effect("keeps equal jitter within [t/2, t]", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ base: "200 millis", max: "5 seconds", jitter: "equal", maxAttempts: 8 })
      const run = yield* runScripted(policy, failures(7)).pipe(Effect.withRandom(Random.make(3)))
      run.delays.forEach((d, n) => {
        const t = Math.min(5000, 200 * 2 ** n)
        expect(d).toBeGreaterThanOrEqual(Math.floor(t / 2))
        expect(d).toBeLessThanOrEqual(t)
      })
    })
  )

  it.effect("keeps decorrelated jitter within [base, min(max, 3 · previous)]", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ base: "100 millis", max: "3 seconds", jitter: "decorrelated", maxAttempts: 9 })
      const run = yield* runScripted(policy, failures(8)).pipe(Effect.withRandom(Random.make(11)))
      let previous = 100
      for (const d of run.delays) {
        expect(d).toBeGreaterThanOrEqual(100)
        expect(d).toBeLessThanOrEqual(Math.ceil(Math.min(3000, previous * 3)))
        previous = d
      }
    })
  )

  it.effect("waits at least what Retry-After asked even when the backoff is shorter", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ base: "100 millis", jitter: "none" })
      const run = yield* runScripted(policy, [rateLimited(3000), transient])
      expect(run.delays).toEqual([3000, 200])
    })
  )

  it.effect("waits what a 503's Retry-After asked, like a 429's", () =>
    Effect.gen(function* () {
      const overloaded = new GrokError.Transient({ reason: "Overloaded", status: 503, retryAfterMillis: 3000 })
      const run = yield* runScripted(RetryPolicy.make({ base: "100 millis", jitter: "none" }), [overloaded])
      expect(run.delays).toEqual([3000])
    })
  )

  it.effect("honours Retry-After given in seconds, as an HTTP-date and as retry-after-ms", () =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const classified = [
        { "retry-after": "4" },
        { "retry-after": new Date(now + 6000).toUTCString() },
        { "retry-after-ms": "1500", "retry-after": "9" }
      ].map((headers) => GrokError.classify({ status: 429, headers, body: '{"error":"slow down"}', nowMillis: now }))
      const errors = classified.map((c) => Either.getLeft(c).pipe((o) => (o._tag === "Some" ? o.value : transient)))
      const policy = RetryPolicy.make({ base: "10 millis", jitter: "none" })
      const run = yield* runScripted(policy, errors)
      expect(errors.map((e) => e._tag)).toEqual(["RateLimited", "RateLimited", "RateLimited"])
      expect(run.delays).toEqual([4000, 6000, 1500])
    })
  )

  it.effect("fails at once with the RateLimited error when the server asks for more than maxWait", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ maxWait: "60 seconds" })
      const run = yield* runScripted(policy, [rateLimited(120_000)])
      expect(run.attempts).toBe(1)
      expect(run.result).toEqual(Either.left(rateLimited(120_000)))
      const left = Either.getLeft(run.result)
      expect(left._tag === "Some" && left.value._tag === "RateLimited" && left.value.retryAfterMillis).toBe(120_000)
    })
  )

  it.effect("stops retrying when the next retry would start after the call's deadline", () =>
    Effect.gen(function* () {
      const policy = RetryPolicy.make({ base: "400 millis", jitter: "none" })
      const run = yield* runScripted(policy, failures(5), "1 second")
      expect(run.delays).toEqual([400])
      expect(run.attempts).toBe(2)
      const error = Either.getLeft(run.result)
      expect(error._tag === "Some" && error.value._tag === "Rejected" && error.value.reason).toBe("DeadlineExceeded")
    })
  )

  it.effect("tries non-retryable errors exactly once", () =>
    Effect.gen(function* () {
      const nonRetryable: ReadonlyArray<GrokError.GrokError> = [
        new GrokError.Validation({ reason: "BadRequest", status: 400 }),
        new GrokError.AuthError({ reason: "InvalidKey", status: 400 }),
        new GrokError.QuotaExhausted({ status: 429 }),
        new GrokError.Rejected({ reason: "QueueFull" })
      ]
      for (const error of nonRetryable) {
        const run = yield* runScripted(RetryPolicy.standard, [error, transient])
        expect(run.attempts).toBe(1)
        expect(run.result).toEqual(Either.left(error))
      }
    })
  )

  it.effect("lets x-should-retry override the table both ways", () =>
    Effect.gen(function* () {
      const noRetry = new GrokError.Transient({ reason: "ServerError", status: 500, shouldRetry: false })
      const retry = new GrokError.Validation({ reason: "Unprocessable", status: 422, shouldRetry: true })
      expect((yield* runScripted(RetryPolicy.standard, [noRetry])).attempts).toBe(1)
      const retried = yield* runScripted(RetryPolicy.make({ jitter: "none" }), [retry])
      expect(retried.attempts).toBe(2)
      expect(retried.result).toEqual(Either.right("ok"))
    })
  )

  it.effect("makes at most maxAttempts attempts in all", () =>
    Effect.gen(function* () {
      const run = yield* runScripted(RetryPolicy.make({ maxAttempts: 3, jitter: "none" }), failures(10))
      expect(run.attempts).toBe(3)
      expect(run.delays).toEqual([250, 500])
    })
  )

  it.effect("never retries with RetryPolicy.none", () =>
    Effect.gen(function* () {
      const run = yield* runScripted(RetryPolicy.none, failures(3))
      expect(run.attempts).toBe(1)
    })
  )

  it.effect("documents the default: 8 attempts, 250 ms doubling to 20 s, full jitter", () =>
    Effect.gen(function* () {
      const run = yield* runScripted(RetryPolicy.standard, failures(20)).pipe(Effect.withRandom(Random.make(1)))
      expect(run.attempts).toBe(8)
      run.delays.forEach((d, n) => expect(d).toBeLessThanOrEqual(Math.min(20_000, 250 * 2 ** n)))
      expect(RetryPolicy.default).toBe(RetryPolicy.standard)
    })
  )
})
