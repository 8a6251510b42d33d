/**
 * What the limiter does with what an attempt reports: the token reservation settles against the tokens used, an
 * exhausted window or a 429 that says the quota is out (not a lone one: `loneThrottle.ts`) holds the key (a
 * shared cooldown), and in adaptive mode the rate is learned. How long an answer asks to wait is
 * `RateLimitHeaders.requestedWaitMillis`, the same rule the retry policy uses.
 */
import * as Effect from "effect/Effect"
import * as AdaptiveRate from "../../AdaptiveRate.js"
import * as RateLimitHeaders from "../../RateLimitHeaders.js"
import type * as RateLimiterStore from "../../RateLimiterStore.js"
import type { Feedback } from "./contract.js"
import * as Engine from "./engine.js"
import * as FiberClock from "../fiberClock.js"
import * as HeaderGate from "./headerGate.js"
import * as LoneThrottle from "./loneThrottle.js"
import type { StoreGateway } from "./storeGateway.js"

/**
 * Moves `requests` and `tokens` of `key`'s budget (negative gives back) at `now`; a give-back may let a waiter go.
 * A memory store settles in this step and the effect returned is `Effect.void`.
 */
export const settleAt = (
  engine: Engine.Engine,
  gateway: StoreGateway,
  target: RateLimiterStore.Service,
  move: { readonly key: string; readonly requests: number; readonly tokens: number },
  now: number
): Effect.Effect<void> => {
  const { key, requests, tokens } = move
  if (requests === 0 && tokens === 0) return Effect.void
  if (requests < 0 || tokens < 0) Engine.budgetChanged(engine, key)
  const request = { key, requests, tokens, limits: Engine.limitsOf(engine, Engine.stateOf(engine, key)) }
  return gateway.settleNow(target, request, now) ? Effect.void : gateway.settle(target, request)
}

/** `settleAt` the current Clock time. */
export const settle = (
  engine: Engine.Engine,
  gateway: StoreGateway,
  target: RateLimiterStore.Service,
  key: string,
  requests: number,
  tokens: number
): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) =>
    settleAt(engine, gateway, target, { key, requests, tokens }, FiberClock.millisOf(fiber))
  )

/** Holds `key` for `millis` from `now` (never shortening a longer hold), locally and in the store. */
const hold = (engine: Engine.Engine, gateway: StoreGateway, key: string, millis: number, now: number, cause: string) =>
  Effect.suspend(() => {
    const state = Engine.stateOf(engine, key)
    const extends_ = now + millis > state.holdUntil
    state.holdUntil = Math.max(state.holdUntil, now + millis)
    const started = extends_ && !state.cooling
    if (started) state.cooling = true
    const logged = started
      ? Effect.logInfo("RateLimiter: cooldown started").pipe(
          Effect.annotateLogs({ key, cooldownMillis: Math.round(millis), cause, queued: engine.queue.size })
        )
      : Effect.void
    return Effect.zipRight(logged, gateway.hold({ key, millis }))
  })

/**
 * A hold longer than `maxCooldown` is not imposed on anyone: no caller would wait that long (the default retry
 * policy gives up on waits past 60 s), and one hostile or broken answer must not freeze every call of the key.
 * The call that got it fails on its own wait; the others go on, and meet the server's verdict themselves.
 */
const holdUnlessAbsurd = (
  engine: Engine.Engine,
  gateway: StoreGateway,
  key: string,
  millis: number,
  now: number,
  cause: string
): Effect.Effect<void> =>
  millis <= engine.settings.maxCooldownMillis
    ? hold(engine, gateway, key, millis, now, cause)
    : Effect.logInfo("RateLimiter: a hold longer than maxCooldown was not applied").pipe(
        Effect.annotateLogs({
          key,
          holdMillis: Math.round(millis),
          maxCooldownMillis: engine.settings.maxCooldownMillis,
          cause
        })
      )

/**
 * How long a 429 whose body named the limit holds: the share of the window taken by the excess
 * (`(actual − limit) / limit`, at least one unit's interval, at most the whole window).
 */
const hintWaitMillis = (hint: RateLimitHeaders.BodyLimitHint | undefined): number | undefined => {
  if (hint === undefined || !(hint.limit > 0)) return undefined
  const share = Math.min(1, Math.max(1, hint.actual - hint.limit) / hint.limit)
  return RateLimitHeaders.windowMillis(hint.per) * share
}

/**
 * The requests window as a hold should read it: when the headers name the quota's period the header gate paces
 * the key exactly (a unit back every `period / limit`), so `remaining: 0` needs no hold until the whole bucket is
 * full again.
 */
const heldWindows = (info: RateLimitHeaders.RateLimitInfo): RateLimitHeaders.RateLimitInfo =>
  info.requests?.periodMillis !== undefined ? { ...info, requests: undefined } : info

/** The hold of any answer: the reset of a window the headers say ran out. */
const windowHoldMillis = (feedback: Feedback): number =>
  RateLimitHeaders.requestedWaitMillis({ ...heldWindows(feedback.info), retryAfterMillis: undefined }) ?? 0

/** The hold an answer imposes on its key: a 429's wait, or the reset of a window the headers say ran out. */
const holdMillis = (engine: Engine.Engine, feedback: Feedback): number =>
  feedback.status === 429
    ? (RateLimitHeaders.requestedWaitMillis(feedback.info) ??
      hintWaitMillis(feedback.hint) ??
      engine.settings.cooldownFallbackMillis)
    : windowHoldMillis(feedback)

/**
 * The shared hold of a 429 at a configured request rate (`loneThrottle.ts`): the whole wait the server asked for
 * when the 429 is one of a burst or the answer says the quota is out for longer than a pacing interval; for a
 * lone 429 only what any answer with its headers would hold, as the call that got it waits on its own.
 */
const configuredHoldMillis = (
  engine: Engine.Engine,
  state: Engine.KeyState,
  feedback: Feedback,
  now: number,
  wait: number
): number => {
  const interval = engine.settings.requests?.intervalMillis
  if (interval === undefined) return wait
  state.recent429s = LoneThrottle.remember(state.recent429s, now, LoneThrottle.burstWindowMillis(interval))
  const burst = state.recent429s.length >= LoneThrottle.BURST_COUNT
  return burst || LoneThrottle.exhausted(feedback, interval, heldWindows(feedback.info))
    ? wait
    : windowHoldMillis(feedback)
}

/**
 * What a 429 meant to the adaptive rate: `"new"` started a congestion episode (the rate was cut), `"again"` cut
 * it again sooner after the last cut than the wait the server asked for (the cut did not help), `"same"` came
 * from a call admitted before the last cut.
 */
type Throttle = "new" | "again" | "same"

const adapt = (
  engine: Engine.Engine,
  state: Engine.KeyState,
  grant: Engine.Grant,
  feedback: Feedback,
  now: number,
  wait: number
): Throttle | undefined => {
  const options = engine.settings.adaptive
  const before = state.adaptive
  if (options === undefined || before === undefined) return undefined
  let next = AdaptiveRate.onHeaders(before, { nowMillis: now, info: feedback.info }, options)
  const event = { nowMillis: now, admittedAtMillis: grant.admittedAtMillis, sinceMillis: state.holdUntil }
  let throttle: Throttle | undefined
  if (feedback.status === 429) {
    const previousCut = next.epochMillis
    next =
      feedback.hint !== undefined
        ? AdaptiveRate.onHint(next, { ...event, hint: feedback.hint }, options)
        : AdaptiveRate.onThrottle(next, event, options)
    throttle = next.epochMillis === previousCut ? "same" : now - previousCut < wait ? "again" : "new"
  } else if (feedback.status !== undefined && feedback.status >= 200 && feedback.status <= 299) {
    const saturated = grant.delayed || engine.queue.size > 0
    next = AdaptiveRate.onSuccess(next, { ...event, saturated }, options)
  }
  state.adaptive = next
  if (next.rate !== before.rate || next.tokensPerSecond !== before.tokensPerSecond)
    Engine.budgetChanged(engine, grant.key)
  return throttle
}

/**
 * The shared hold of a 429 in adaptive mode. The rate cut is the answer to a lone 429: the call that got it waits
 * its own `Retry-After` (a whole-second one is mostly the rounding of a wait of a few tens of milliseconds), and
 * the key pauses for at most one interval at the cut rate, so the calls admitted meanwhile do not pile onto an
 * empty bucket. Only when 429s go on after a cut does every caller wait the whole time the server asked for.
 */
const adaptiveHoldMillis = (wait: number, throttle: Throttle | undefined, state: Engine.KeyState): number => {
  if (throttle === undefined || throttle === "again") return wait
  if (throttle === "same") return 0
  const rate = state.adaptive?.rate
  return rate !== undefined && rate > 0 ? Math.min(wait, 1000 / rate) : wait
}

/** The newest answer's `remaining` caps the next sends; a gate that opens further may let a waiter go. */
const gate = (engine: Engine.Engine, state: Engine.KeyState, grant: Engine.Grant, feedback: Feedback, now: number) => {
  const before = state.gate
  state.gate = HeaderGate.update(before, feedback.info.requests, grant.seq, now, engine.settings.maxCooldownMillis)
  if (state.gate !== before) Engine.budgetChanged(engine, grant.key)
}

/** The `report` of a permit: settle, hold, gate and adapt, once, in one step unless the store or a log takes more. */
export const report =
  (engine: Engine.Engine, gateway: StoreGateway, grant: Engine.Grant) =>
  (feedback: Feedback): Effect.Effect<void> =>
    Effect.withFiberRuntime((fiber) => {
      if (grant.reported || grant.released) return Effect.void
      grant.reported = true
      const now = FiberClock.millisOf(fiber)
      const state = Engine.stateOf(engine, grant.key)
      const used = feedback.usedTokens
      const charged = feedback.status !== 429 && used !== undefined && used >= 0 ? used : 0
      const requested = holdMillis(engine, feedback)
      const throttle = adapt(engine, state, grant, feedback, now, requested)
      const wait =
        feedback.status !== 429
          ? requested
          : state.adaptive !== undefined
            ? adaptiveHoldMillis(requested, throttle, state)
            : configuredHoldMillis(engine, state, feedback, now, requested)
      gate(engine, state, grant, feedback, now)
      const settled =
        charged !== grant.tokens
          ? settleAt(engine, gateway, grant.store, { key: grant.key, requests: 0, tokens: charged - grant.tokens }, now)
          : Effect.void
      if (!(wait > 0)) return settled
      const cause = feedback.status === 429 ? "429" : "remaining 0"
      return Effect.zipRight(settled, holdUnlessAbsurd(engine, gateway, grant.key, wait, now, cause))
    })
