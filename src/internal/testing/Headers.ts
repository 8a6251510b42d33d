/**
 * The pacing headers of the fake: how a 429 names its wait (`Retry-After` in seconds or as an HTTP-date,
 * `retry-after-ms`, or nothing), and the `x-ratelimit-*` headers describing the quota state.
 */
import type { Answer } from "./Answer.js"
import * as Quota from "./Quota.js"
import type { RetryAfterStyle } from "./Scenario.js"
import type { State } from "./State.js"

/** The headers telling a client to wait `waitMillis`; an HTTP-date is computed from the wall clock `wallMillis`. */
export const waitHeaders = (style: RetryAfterStyle, waitMillis: number, wallMillis: number): Record<string, string> => {
  const wait = Math.max(1, Math.ceil(waitMillis))
  switch (style) {
    case "seconds":
      return { "retry-after": String(Math.ceil(wait / 1000)) }
    case "date":
      return { "retry-after": new Date(Math.ceil((wallMillis + wait) / 1000) * 1000).toUTCString() }
    case "ms":
      return { "retry-after-ms": String(wait) }
    case "none":
      return {}
  }
}

/** `x-ratelimit-*` headers describing the quota state now, when the scenario asks for them. */
export const rateLimitHeaders = (state: State, answer: Answer, nowMillis: number): Record<string, string> => {
  if (!state.scenario.rateLimitHeaders) return {}
  const headers: Record<string, string> = {}
  const buckets = [state.perSecond, state.perMinute].filter((b): b is Quota.Bucket => b !== undefined)
  const scriptedWait = answer.scriptedWaitMillis
  if (buckets.length > 0 || scriptedWait !== undefined) {
    const tightest = buckets
      .map((b) => ({ remaining: Quota.bucketRemaining(b, nowMillis), reset: Quota.bucketReset(b, nowMillis) }))
      .sort((a, b) => a.remaining - b.remaining || b.reset - a.reset)[0] ?? {
      remaining: state.scenario.burst,
      reset: 0
    }
    headers["x-ratelimit-limit-requests"] = String(state.scenario.burst)
    headers["x-ratelimit-remaining-requests"] = String(scriptedWait !== undefined ? 0 : tightest.remaining)
    headers["x-ratelimit-reset-requests"] = Quota.goDuration(Math.max(tightest.reset, scriptedWait ?? 0))
  }
  const limit = state.scenario.tokensPerMinute
  if (state.tokens && limit !== undefined) {
    const used = Quota.logSum(state.tokens, nowMillis)
    headers["x-ratelimit-limit-tokens"] = String(limit)
    headers["x-ratelimit-remaining-tokens"] = String(Math.max(0, limit - used))
    headers["x-ratelimit-reset-tokens"] = Quota.goDuration(Quota.logReset(state.tokens, nowMillis))
  }
  return headers
}
