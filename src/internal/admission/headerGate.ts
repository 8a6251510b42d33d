/**
 * The header gate: never send more than `x-ratelimit-remaining-requests` of the newest answer allows until a
 * later answer says otherwise. The server counted that `remaining` when it took the call that got the answer, so
 * every call of the key admitted after that one has already spent a unit of it. Units come back at the quota's
 * rate when the headers name its period (`limit` per minute), and the gate lifts at `reset`, when the server's
 * bucket is full again, so a gate can never block a key for good even when nothing is in flight to answer.
 */
import type * as RateLimitHeaders from "../../RateLimitHeaders.js"

export interface Gate {
  /** Admissions of the key up to and including the call whose answer set the gate. */
  readonly seq: number
  /** Units the server said were left when it took that call. */
  readonly remaining: number
  /** When the answer arrived, in Clock millis. */
  readonly atMillis: number
  /** When the server's bucket is full again: the gate is open from then on. */
  readonly untilMillis: number
  /** Units the server refills per millisecond; 0 when the headers name no period for the quota. */
  readonly refillPerMillis: number
}

/**
 * The gate an answer sets, or `undefined` when its headers say nothing usable about the burst (no `remaining`,
 * no `reset`, or a bucket already full). A reset past `maxMillis` sets no gate at all, as a hold past it is not
 * applied: an absurd reset (years away) must not freeze every call of the key.
 */
export const fromWindow = (
  window: RateLimitHeaders.LimitWindow | undefined,
  seq: number,
  nowMillis: number,
  maxMillis: number
): Gate | undefined => {
  const remaining = window?.remaining
  const reset = window?.resetMillis
  if (remaining === undefined || reset === undefined || !(reset > 0) || reset > maxMillis) return undefined
  const period = window?.periodMillis
  const limit = window?.limit
  const refillPerMillis = period !== undefined && limit !== undefined && period > 0 && limit > 0 ? limit / period : 0
  return { seq, remaining, atMillis: nowMillis, untilMillis: nowMillis + reset, refillPerMillis }
}

/**
 * The gate after an answer of the call admitted `seq`-th: an answer to an older call than the one that set the
 * current gate says less about the server now, and an answer without request headers changes nothing.
 */
export const update = (
  current: Gate | undefined,
  window: RateLimitHeaders.LimitWindow | undefined,
  seq: number,
  nowMillis: number,
  maxMillis: number
): Gate | undefined => {
  if (window?.remaining === undefined) return current
  if (current !== undefined && seq < current.seq) return current
  return fromWindow(window, seq, nowMillis, maxMillis)
}

/**
 * When the next call may go, given `admitted` admissions of the key so far: now or earlier when the gate allows
 * it, else when enough units have come back, and at the latest when the bucket is full again.
 */
export const openAt = (gate: Gate, admitted: number, nowMillis: number): number => {
  if (nowMillis >= gate.untilMillis) return nowMillis
  const needed = admitted - gate.seq + 1 - gate.remaining
  if (needed <= 0) return nowMillis
  if (gate.refillPerMillis <= 0) return gate.untilMillis
  return Math.min(gate.untilMillis, gate.atMillis + needed / gate.refillPerMillis)
}
