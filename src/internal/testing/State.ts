/**
 * The mutable state behind one scenario of the fake Grok server: quota buckets, the token window, the script
 * position, the fault PRNG and the stored Responses. A new scenario gets a fresh one.
 */
import * as Quota from "./Quota.js"
import type { Resolved } from "./Scenario.js"
import { prng } from "./Scenario.js"

/** Stored Responses kept for `GET /v1/responses/{id}`; the oldest is evicted beyond this, so memory stays bounded. */
export const MAX_STORED_RESPONSES = 10_000

export interface State {
  readonly scenario: Resolved
  /** Monotonic time the scenario was set: outages are relative to it. */
  readonly epochMillis: number
  scriptIndex: number
  readonly perSecond: Quota.Bucket | undefined
  readonly perMinute: Quota.Bucket | undefined
  /** Tokens served in the last minute, when the scenario limits them. */
  readonly tokens: Quota.TimeLog | undefined
  /** Admissions of the last minute, for the counts a 429 body quotes. */
  readonly admitted: Quota.TimeLog
  /** The scenario's own seeded PRNG: the same seed draws the same faults in either front end. */
  readonly random: () => number
  /** Responses by id, oldest first (a `Map` keeps insertion order). */
  readonly stored: Map<string, unknown>
}

/** Fresh state for a scenario set at `nowMillis`. */
export const initial = (scenario: Resolved, nowMillis: number): State => ({
  scenario,
  epochMillis: nowMillis,
  scriptIndex: 0,
  perSecond:
    scenario.requestsPerSecond !== undefined
      ? Quota.bucket(1000 / scenario.requestsPerSecond, scenario.burst, nowMillis)
      : undefined,
  perMinute:
    scenario.requestsPerMinute !== undefined
      ? Quota.bucket(60_000 / scenario.requestsPerMinute, scenario.burst, nowMillis)
      : undefined,
  tokens: scenario.tokensPerMinute !== undefined ? Quota.timeLog(Quota.WINDOW_MILLIS) : undefined,
  admitted: Quota.timeLog(Quota.WINDOW_MILLIS),
  random: prng(scenario.seed),
  stored: new Map()
})

/** Keeps a response for later reads, evicting the oldest beyond `MAX_STORED_RESPONSES`. */
export const store = (state: State, id: string, response: unknown): void => {
  state.stored.set(id, response)
  if (state.stored.size > MAX_STORED_RESPONSES) {
    const oldest = state.stored.keys().next()
    if (!oldest.done) state.stored.delete(oldest.value)
  }
}
