/**
 * The mutable state behind one scenario of the fake Grok server: quota buckets, the token window, the script
 * position, the fault PRNG, the stored Responses and the pending deferred completions. A new scenario gets a fresh
 * one.
 */
import * as Batches from "./Batches.js"
import * as Quota from "./Quota.js"
import type { Resolved } from "./Scenario.js"
import { prng } from "./Scenario.js"

/** Kept answers (stored responses, deferred completions) beyond which the oldest is evicted: memory stays bounded. */
export const MAX_KEPT = 10_000

/** Characters of kept answers beyond which the oldest is evicted. */
export const MAX_KEPT_CHARACTERS = 64 * 1024 * 1024

/** Answers kept by id as JSON text, oldest first, bounded in count and size. */
export interface Kept<A extends { readonly json: string }> {
  readonly entries: Map<string, A>
  characters: number
}

/** A deferred completion: its answer, and when it is ready on the engine's clock. */
export interface Deferred {
  readonly json: string
  readonly readyAtMillis: number
}

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
  /** Responses kept for `GET /v1/responses/{id}`. */
  readonly stored: Kept<{ readonly json: string }>
  /** Deferred completions by request id, until collected. */
  readonly deferred: Kept<Deferred>
  /** The Batch API's batches and their requests. */
  readonly batches: Batches.BatchesState
}

const kept = <A extends { readonly json: string }>(): Kept<A> => ({ entries: new Map(), characters: 0 })

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
  stored: kept(),
  deferred: kept(),
  batches: Batches.makeState(scenario.batches, scenario.reasoningTokens)
})

/** Keeps an answer, evicting the oldest beyond `MAX_KEPT` entries or `MAX_KEPT_CHARACTERS`. */
export const keep = <A extends { readonly json: string }>(self: Kept<A>, id: string, entry: A): void => {
  take(self, id)
  self.entries.set(id, entry)
  self.characters += entry.json.length
  while (self.entries.size > MAX_KEPT || (self.characters > MAX_KEPT_CHARACTERS && self.entries.size > 1)) {
    const oldest = self.entries.keys().next()
    if (oldest.done) break
    take(self, oldest.value)
  }
}

/** Removes and returns an entry. */
export const take = <A extends { readonly json: string }>(self: Kept<A>, id: string): A | undefined => {
  const entry = self.entries.get(id)
  if (entry === undefined) return undefined
  self.entries.delete(id)
  self.characters -= entry.json.length
  return entry
}
