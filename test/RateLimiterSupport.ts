/**
 * Helpers shared by the RateLimiter tests: tickets, callers forked against a limiter, and what they saw.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import type * as RateLimiter from "../src/RateLimiter.js"

/** Lets every forked fiber run until it waits on something (TestClock waits for that before moving). */
export const quiesce = TestClock.adjust(0)

export const ticket = (overrides: Partial<RateLimiter.Ticket> = {}): RateLimiter.Ticket => ({
  priority: "normal",
  estimatedTokens: 0,
  model: "grok-4",
  ...overrides
})

/**
 * Forks a caller that records the Clock time (and a label) at admission, then reports `feedback` if given and
 * releases at once.
 */
export const admitAndRecord = (
  limiter: RateLimiter.Service,
  log: Array<readonly [string, number]>,
  label: string,
  overrides: Partial<RateLimiter.Ticket> = {},
  feedback?: RateLimiter.Feedback
) =>
  Effect.fork(
    Effect.scoped(
      Effect.gen(function* () {
        const permit = yield* limiter.acquire(ticket(overrides))
        log.push([label, yield* Clock.currentTimeMillis])
        if (feedback !== undefined) yield* permit.report(feedback)
      })
    )
  )

/** Forks a caller that holds its permit until `release` is completed; `admitted` completes on admission. */
export const holdPermit = (limiter: RateLimiter.Service, overrides: Partial<RateLimiter.Ticket> = {}) =>
  Effect.gen(function* () {
    const admitted = yield* Deferred.make<RateLimiter.Permit>()
    const release = yield* Deferred.make<void>()
    const fiber = yield* Effect.fork(
      Effect.scoped(
        Effect.gen(function* () {
          const permit = yield* limiter.acquire(ticket(overrides))
          yield* Deferred.succeed(admitted, permit)
          yield* Deferred.await(release)
        })
      )
    )
    return { admitted, release, fiber }
  })

/** The `reason` of the `Rejected` a caller failed with, if it failed. */
export const rejection = (exit: Exit.Exit<unknown, { readonly reason: string }>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause))?.reason : undefined

export const times = (log: ReadonlyArray<readonly [string, number]>) => log.map(([, at]) => at)
export const labels = (log: ReadonlyArray<readonly [string, number]>) => log.map(([label]) => label)

/**
 * The `info` of a 429 whose headers say the quota is out for `millis` (`remaining: 0` until the reset): evidence
 * that the shared quota is exhausted, so even a lone one holds every caller of a key paced at a configured rate.
 */
export const quotaOut = (millis: number): RateLimiter.Feedback["info"] => ({
  retryAfterMillis: millis,
  requests: { remaining: 0, resetMillis: millis }
})
