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

/** Admits one attempt; the permit lives as long as the enclosing scope. */
export const admit = (
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket
): Effect.Effect<RateLimiter.Permit, Rejected, Scope.Scope> =>
  Effect.withFiberRuntime((fiber) => {
    const queued = FiberClock.millisOf(fiber)
    return Effect.matchEffect(limiter.acquire(ticket), {
      onFailure: (error) =>
        Effect.zipRight(GrokMetrics.recordRejected({ model: ticket.model, reason: error.reason }), Effect.fail(error)),
      onSuccess: (permit) => recorded(limiter, ticket, queued, permit)
    })
  })
