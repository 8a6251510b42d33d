/**
 * When a 429 holds every caller of a key paced at a configured request rate. The limiter already sends at the
 * rate the quota allows, so one 429 is most likely jitter on the way (a few calls that left on time arrived
 * together): the call that got it waits its own `Retry-After` through its retry policy, and the others go on.
 * Only evidence that the shared quota is exhausted starts the shared cooldown: several 429s close together, or
 * an answer saying the quota is out for longer than a pacing interval.
 */
import * as RateLimitHeaders from "../../RateLimitHeaders.js"
import type { Feedback } from "./contract.js"

/** 429s of one key, this one included, that count as a burst when they are answered close together. */
export const BURST_COUNT = 3

/** "Close together": within one second, or within this many pacing intervals when the rate is below 4/s. */
const BURST_INTERVALS = 4
const BURST_WINDOW_MILLIS = 1000

/** How far apart the 429s of a burst may be answered, for a key paced every `intervalMillis`. */
export const burstWindowMillis = (intervalMillis: number): number =>
  Math.max(BURST_WINDOW_MILLIS, BURST_INTERVALS * intervalMillis)

/**
 * The answer times of the key's latest 429s with `now` added, keeping only those within the window of the newest
 * and at most `BURST_COUNT` of them.
 */
export const remember = (recent: ReadonlyArray<number>, now: number, windowMillis: number): ReadonlyArray<number> => {
  const kept = recent.filter((at) => now - at < windowMillis)
  kept.push(now)
  return kept.length > BURST_COUNT ? kept.slice(kept.length - BURST_COUNT) : kept
}

/**
 * The answer says the quota is out for longer than a pacing interval: a window at `remaining: 0` whose reset is
 * further away than the interval (a requests window with a known period is left to the header gate, which paces
 * it unit by unit), a 429 body naming a token limit, or one naming a request limit below the configured rate.
 */
export const exhausted = (
  feedback: Feedback,
  intervalMillis: number,
  held: RateLimitHeaders.RateLimitInfo
): boolean => {
  const reset = RateLimitHeaders.requestedWaitMillis({ ...held, retryAfterMillis: undefined }) ?? 0
  if (reset > intervalMillis) return true
  const hint = feedback.hint
  if (hint === undefined) return false
  if (hint.kind === "tokens") return true
  // The relative slack keeps a limit equal to the configured rate (100 per second at 10 ms) from reading as lower.
  const namedPerMillis = hint.limit / RateLimitHeaders.windowMillis(hint.per)
  return namedPerMillis * (1 + 1e-9) < 1 / intervalMillis
}
