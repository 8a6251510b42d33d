/**
 * What the admission service promises the pipeline: the ticket an attempt asks with, the permit it gets, the
 * feedback it reports. `RateLimiter` re-exports these as its public types.
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Rejected } from "../../GrokError.js"
import type { BodyLimitHint, RateLimitInfo } from "../../RateLimitHeaders.js"

/** The admission classes in service order: the one list of priorities. */
export const PRIORITIES = ["critical", "high", "normal", "low"] as const

/** Admission classes: higher classes are admitted first; within a class, first come first served. */
export type Priority = (typeof PRIORITIES)[number]

/** The rank of a priority in the queue, 0 served first. */
export const rankOf = (priority: Priority): number => {
  const rank = PRIORITIES.indexOf(priority)
  return rank < 0 ? PRIORITIES.indexOf("normal") : rank
}

/** What one attempt asks for. */
export interface Ticket {
  readonly priority: Priority
  /** Tokens reserved before sending; settled against `usage.total_tokens` afterwards. */
  readonly estimatedTokens: number
  /** Longest time this attempt may wait in the queue before `Rejected("DeadlineExceeded")`. */
  readonly maxQueueWait?: Duration.Duration
  /** The model, so that stores can keep one quota per model. */
  readonly model: string
}

/** What the client learned from one attempt. */
export interface Feedback {
  /** HTTP status; absent when the attempt got no answer. */
  readonly status?: number
  readonly info: RateLimitInfo
  /** The limit a 429 body named, if any. */
  readonly hint?: BodyLimitHint
  /** `usage.total_tokens` of a success (reasoning tokens included). */
  readonly usedTokens?: number
}

/**
 * An admitted attempt. Closing its scope without `report` returns the reservation (the call failed unsent or
 * got no answer).
 */
export interface Permit {
  readonly report: (feedback: Feedback) => Effect.Effect<void>
}

/** A point-in-time view for metrics and logs. */
export interface Snapshot {
  readonly queued: number
  readonly inFlight: number
  /** Epoch millis until which every send is held, or 0. */
  readonly holdUntilMillis: number
  /** Adaptive mode only: the learned requests per second of each budget key. */
  readonly rates?: Readonly<Record<string, number>>
}

export interface Service {
  /** Waits for admission; the permit lives as long as the scope. */
  readonly acquire: (ticket: Ticket) => Effect.Effect<Permit, Rejected, Scope.Scope>
  readonly snapshot: Effect.Effect<Snapshot>
}
