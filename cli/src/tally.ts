/**
 * The counters of one run, updated as results are written and read by the progress display and the summary.
 *
 * @since 0.1.0
 */
import { GrokApi } from "grok-resilience"
import * as Records from "./records.js"

/**
 * Tokens by kind, summed over the successful calls of this run.
 *
 * @since 0.1.0
 * @category models
 */
export interface Tokens {
  prompt: number
  completion: number
  reasoning: number
  cached: number
  total: number
}

/**
 * How the run ended.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "complete" | "interrupted" | "stopped"

/**
 * The final summary, also printed as one JSON line with `--json-summary`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Summary {
  readonly outcome: Outcome
  /** Non-blank input lines. */
  readonly total: number
  /** Results written by this run (`ok` plus every failure). */
  readonly calls: number
  readonly ok: number
  /** Failures of this run by error tag (`Validation` includes refused input lines). */
  readonly failed: Readonly<Record<string, number>>
  /** HTTP attempts made by this run's calls, first tries included. */
  readonly attempts: number
  /** Attempts beyond the first of each call. */
  readonly retries: number
  /** HTTP 429 answers received. */
  readonly rateLimited429: number
  /** Successful calls answered by a fallback model (`--fallback-model`), not the line's own. */
  readonly answeredByFallback: number
  /** Failed calls refused by an open circuit breaker (`Rejected`, reason `CircuitOpen`): nothing was sent last. */
  readonly refusedByOpenBreaker: number
  readonly wallMillis: number
  readonly tokens: Tokens
  readonly costUsd: number
  /** Ids (and refused lines) already in the results file from an earlier run, not sent again. */
  readonly skippedAlreadyDone: number
  /** Input lines with no result yet (after an interruption or a stop). */
  readonly remaining: number
  /** Calls in flight when the run was interrupted whose answer did not come within the grace period. */
  readonly abandoned: number
}

/**
 * Mutable counters; JavaScript runs one fiber at a time, so plain fields are enough.
 *
 * @since 0.1.0
 * @category models
 */
export class Tally {
  readonly startedAt = Date.now()
  /** Non-blank input lines, known after the counting pass. */
  total = 0
  skipped = 0
  /** Of the skipped, how many are failure lines (they keep the exit code at 1). */
  skippedFailed = 0
  /** Failure lines, this run's and earlier ones, that `--retry-failed` would send again. */
  retriable = 0
  ok = 0
  failedCount = 0
  readonly failed: Record<string, number> = {}
  attempts = 0
  retries = 0
  rateLimited429 = 0
  answeredByFallback = 0
  refusedByOpenBreaker = 0
  readonly tokens: Tokens = { prompt: 0, completion: 0, reasoning: 0, cached: 0, total: 0 }
  costUsd = 0

  /** Results written by this run. */
  get written(): number {
    return this.ok + this.failedCount
  }

  /** Input lines with a result, from this run or an earlier one. */
  get done(): number {
    return this.skipped + this.written
  }

  skip(seen: Records.Seen): void {
    this.skipped++
    if (!seen.ok) this.skippedFailed++
    if (seen.retriable) this.retriable++
  }

  add(record: Records.ResultLine): void {
    this.attempts += record.attempts
    this.retries += Math.max(0, record.attempts - 1)
    if (record.ok) {
      this.ok++
      if (record.fallbackModel !== undefined) this.answeredByFallback++
      const usage = GrokApi.usageSummary(record.usage ?? undefined)
      this.tokens.prompt += usage.prompt
      this.tokens.completion += usage.completion
      this.tokens.reasoning += usage.reasoning
      this.tokens.cached += usage.cached
      this.tokens.total += usage.total
      this.costUsd += usage.costUsd
    } else {
      this.failedCount++
      if (record.error._tag === "Rejected" && record.error.reason === "CircuitOpen") this.refusedByOpenBreaker++
      if (record.id !== null && record.error.reason !== Records.INVALID_INPUT) this.retriable++
      this.failed[record.error._tag] = (this.failed[record.error._tag] ?? 0) + 1
    }
  }

  summary(outcome: Outcome, abandoned = 0): Summary {
    return {
      outcome,
      total: this.total,
      calls: this.written,
      ok: this.ok,
      failed: { ...this.failed },
      attempts: this.attempts,
      retries: this.retries,
      rateLimited429: this.rateLimited429,
      answeredByFallback: this.answeredByFallback,
      refusedByOpenBreaker: this.refusedByOpenBreaker,
      wallMillis: Date.now() - this.startedAt,
      tokens: { ...this.tokens },
      costUsd: Math.round(this.costUsd * 1e6) / 1e6,
      skippedAlreadyDone: this.skipped,
      remaining: Math.max(0, this.total - this.done),
      abandoned
    }
  }
}
