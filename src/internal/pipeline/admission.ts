/**
 * The admission stage: waits for the rate limiter's permit for one attempt and records how long it took. The
 * limiter is the one found in the call's context, else the one the client was built with, else none.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Rejected } from "../../GrokError.js"
import * as GrokMetrics from "../../GrokMetrics.js"
import type * as RateLimiter from "../../RateLimiter.js"

/** Admits one attempt; the permit lives as long as the enclosing scope. */
export const admit = (
  limiter: RateLimiter.Service,
  ticket: RateLimiter.Ticket
): Effect.Effect<RateLimiter.Permit, Rejected, Scope.Scope> =>
  Effect.gen(function* () {
    const queued = yield* Clock.currentTimeMillis
    const permit = yield* limiter
      .acquire(ticket)
      .pipe(Effect.tapError((error) => GrokMetrics.recordRejected({ model: ticket.model, reason: error.reason })))
    const admitted = yield* Clock.currentTimeMillis
    yield* GrokMetrics.recordAdmissionWait({ model: ticket.model, durationMillis: admitted - queued })
    yield* GrokMetrics.recordLimiterState({ snapshot: yield* limiter.snapshot, nowMillis: admitted })
    return permit
  })
