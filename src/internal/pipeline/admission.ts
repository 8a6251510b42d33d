/**
 * The admission stage: waits for the rate limiter's permit for one attempt and records how long it took. The
 * limiter is the one found in the call's context, else the one the client was built with, else none.
 */
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import type { Rejected } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import type * as RateLimiter from "../../RateLimiter.js"
import * as FiberClock from "../fiberClock.js"
import * as Snapshots from "../admission/snapshots.js"
import * as Unscoped from "../admission/unscoped.js"
import { unsafeRecordLimiterState } from "../limiterMetrics.js"

/** Records the wait and the limiter's state once admitted; for this library's limiters in the same step. */
const recorded = (
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket,
  queued: number,
  permit: RateLimiter.Permit
): Effect.Effect<RateLimiter.Permit> =>
  Effect.withFiberRuntime((fiber) => {
    const admitted = FiberClock.millisOf(fiber)
    const labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
    const wait = GrokMetrics.withLabels(GrokMetrics.admissionWait, { model: ticket.model })
    wait.unsafeUpdate(Math.max(0, admitted - queued) / 1000, labels)
    const snapshot = Snapshots.at(limiter, admitted)
    if (snapshot !== undefined) {
      unsafeRecordLimiterState({ snapshot, nowMillis: admitted }, labels)
      return Effect.succeed(permit)
    }
    return Effect.flatMap(limiter.snapshot, (snapshot) =>
      Effect.as(GrokMetrics.recordLimiterState({ snapshot, nowMillis: admitted }), permit)
    )
  })

/** The limiter's answer recorded: the wait and its state on admission, the reason on a refusal. */
const recordedAcquire = <R>(
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket,
  acquire: Effect.Effect<RateLimiter.Permit, Rejected, R>
): Effect.Effect<RateLimiter.Permit, Rejected, R> =>
  Effect.withFiberRuntime((fiber) => {
    const queued = FiberClock.millisOf(fiber)
    return Effect.matchEffect(acquire, {
      onFailure: (error) =>
        Effect.zipRight(GrokMetrics.recordRejected({ model: ticket.model, reason: error.reason }), Effect.fail(error)),
      onSuccess: (permit) => recorded(limiter, ticket, queued, permit)
    })
  })

/** Admits one attempt; the permit lives as long as the enclosing scope. */
export const admit = (
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket
): Effect.Effect<RateLimiter.Permit, Rejected, Scope.Scope> => recordedAcquire(limiter, ticket, limiter.acquire(ticket))

/**
 * Admits one attempt and runs `use` with its permit, which lives until `use` ends, however it ends. This library's
 * limiters need no scope for that (`admission/unscoped.ts`): the grant is released by one exit handler. Any other
 * limiter's permit lives in a scope of the attempt's own.
 */
export const admitted = <A, E>(
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket,
  use: (permit: RateLimiter.Permit) => Effect.Effect<A, E>
): Effect.Effect<A, E | Rejected> => {
  const unscoped = Unscoped.of(limiter)
  if (unscoped === undefined) return Effect.scoped(Effect.flatMap(admit(limiter, ticket), use))
  return Effect.suspend(() => {
    const { acquire, release } = unscoped(ticket)
    return Effect.onExit(Effect.flatMap(recordedAcquire(limiter, ticket, acquire), use), () => release)
  })
}
