/**
 * Adaptive mode: a pure controller that learns a safe request rate from what the server answers, for a limiter
 * with no configured rate.
 *
 * - **Slow start**: it starts at `initialRate` and, while callers are waiting for it, adds `growth` requests per
 *   second for every success (the rate grows by `e^growth` per second of saturated traffic), so a burst of first
 *   calls against an unknown limit meets only a few 429s.
 * - **CUBIC** (as in the AWS SDK's adaptive retry mode): a 429 sets `W` to the rate it failed at, capped by the
 *   rate the server actually accepted just before (so the overshoot of slow start is not remembered as the
 *   limit), multiplies the rate by `beta`, and successes then follow `W + scale·(t − K)³` with
 *   `K = ∛(W·(1 − beta)/scale)`: fast far below `W`, slow near it, probing past it only carefully. One decrease
 *   per congestion episode: a 429 of a call admitted before the last decrease changes nothing.
 * - **Evidence**: a 429 body that names the limit ("Requests per Second (actual/limit): 21/20") and the quota of
 *   `x-ratelimit-limit-*` headers over its period (per minute, as OpenAI and xAI count) give the limit itself;
 *   the rate then jumps to it (times `hintSafety` or `headerSafety`) and never probes past it.
 *
 * Every function takes the time as an argument; the limiter feeds it `Clock` time.
 *
 * @since 0.1.0
 */
import type * as RateLimitHeaders from "./RateLimitHeaders.js"
import { windowMillis } from "./RateLimitHeaders.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests per second before anything is learned. Default 4: xAI allows several per second on every tier. */
  readonly initialRate?: number
  /** The rate never goes below this. Default 0.05 (3 per minute). */
  readonly minRate?: number
  /** The rate never goes above this. Default 10,000. */
  readonly maxRate?: number
  /** Multiplicative decrease on a 429, in (0, 1). Default 0.7 (AWS SDK and CUBIC). */
  readonly beta?: number
  /**
   * CUBIC's scaling constant `C`, in requests per second per second³. Default 0.1: a quarter of the AWS SDK's
   * 0.4, because a 429 here usually costs a whole-second `Retry-After` cooldown for every caller.
   */
  readonly scale?: number
  /** Requests per second added per success while probing; also caps every later increase. Default 2. */
  readonly growth?: number
  /**
   * While probing, the rate may also grow by this share per round trip (each success adds `roundTripGrowth /
   * its latency`), whichever is faster: against a fast server with room to spare the start takes a few round
   * trips rather than seconds, and an overshoot is seen one short round trip later. Default 0.1.
   *
   * @since 0.2.0
   */
  readonly roundTripGrowth?: number
  /** Share of a limit named by a 429 body that is used, in (0, 1]. Default 1: the body names the exact limit. */
  readonly hintSafety?: number
  /**
   * Share of a limit read from `x-ratelimit-*` headers that is used, in (0, 1]. Default 1: the quota over its period
   * is the server's own figure, and the header gate keeps the sends within the burst the server reports.
   */
  readonly headerSafety?: number
}

/**
 * Options with every default filled in.
 *
 * @since 0.1.0
 * @category models
 */
export type Resolved = { readonly [K in keyof Options]-?: number }

/**
 * @since 0.1.0
 * @category constants
 */
export const defaults: Resolved = {
  initialRate: 4,
  minRate: 0.05,
  maxRate: 10_000,
  beta: 0.7,
  scale: 0.1,
  growth: 2,
  roundTripGrowth: 0.1,
  hintSafety: 1,
  headerSafety: 1
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (options: Options | undefined): Resolved => {
  const given = Object.entries(options ?? {}).filter(([, value]) => value !== undefined)
  return { ...defaults, ...Object.fromEntries(given) }
}

/** Successes per 100 ms slot over the last second, by admission time: what the server accepted lately. */
interface Meter {
  /** Start of the newest slot. */
  readonly slot: number
  /** Counts, newest last. */
  readonly counts: ReadonlyArray<number>
}

const SLOT_MILLIS = 100
const SLOTS = 10
/** The shortest stretch of traffic whose accepted rate is trusted to cap `W`. */
const MIN_MEASURE_MILLIS = 300

const record = (meter: Meter, atMillis: number): Meter => {
  const slot = Math.floor(atMillis / SLOT_MILLIS) * SLOT_MILLIS
  if (slot < meter.slot - (SLOTS - 1) * SLOT_MILLIS) return meter
  if (slot <= meter.slot) {
    const index = SLOTS - 1 - (meter.slot - slot) / SLOT_MILLIS
    return { slot: meter.slot, counts: meter.counts.map((count, i) => (i === index ? count + 1 : count)) }
  }
  const shift = Math.min(SLOTS, (slot - meter.slot) / SLOT_MILLIS)
  const counts = [...meter.counts.slice(shift), ...Array.from({ length: shift }, () => 0)]
  counts[SLOTS - 1] = (counts[SLOTS - 1] ?? 0) + 1
  return { slot, counts }
}

/** Accepted requests per second from `fromMillis` (at most a second back) to `nowMillis`, if long enough. */
const measure = (meter: Meter, fromMillis: number, nowMillis: number): number | undefined => {
  // Not from before the first success on record: a second that began before any traffic is not a second of it.
  const first = meter.counts.findIndex((count) => count > 0)
  const firstMillis = first < 0 ? nowMillis : meter.slot - (SLOTS - 1 - first) * SLOT_MILLIS
  const from = Math.max(fromMillis, nowMillis - SLOTS * SLOT_MILLIS, firstMillis)
  if (nowMillis - from < MIN_MEASURE_MILLIS) return undefined
  let total = 0
  meter.counts.forEach((count, i) => {
    const start = meter.slot - (SLOTS - 1 - i) * SLOT_MILLIS
    if (start + SLOT_MILLIS > from && start <= nowMillis) total += count
  })
  return (total * 1000) / (nowMillis - from)
}

/** Recent rates named by headers, newest last; the estimate is their minimum. */
type Samples = ReadonlyArray<number>

const SAMPLES = 16

/**
 * @since 0.1.0
 * @category models
 */
export interface State {
  /** Requests per second now allowed. */
  readonly rate: number
  readonly phase: "SlowStart" | "Avoidance"
  /** `W`: the rate at the last decrease. */
  readonly lastMaxRate: number
  /** `K`, in seconds. */
  readonly k: number
  /** When the last decrease (or jump to a known limit) happened; calls admitted up to then cannot cause another. */
  readonly epochMillis: number
  /** Requests per second named by a 429 body, times `hintSafety`. */
  readonly hintRate: number
  /** Requests per second estimated from headers, times `headerSafety`. */
  readonly headerRate: number
  readonly requestSamples: Samples
  /** Tokens per second named by a body or estimated from headers; `undefined` while unknown. */
  readonly tokensPerSecond: number | undefined
  readonly hintTokens: number
  readonly tokenSamples: Samples
  readonly accepted: Meter
}

/** Round trips shorter than this grow the rate as much as this one: loopback answers take less than a millisecond. */
const MIN_ROUND_TRIP_MILLIS = 5

const clamp = (value: number, low: number, high: number) => Math.min(high, Math.max(low, value))

const ceilingOf = (state: State) => Math.min(state.hintRate, state.headerRate)

/**
 * The state before any answer.
 *
 * @since 0.1.0
 * @category constructors
 */
export const initial = (options: Resolved): State => ({
  rate: clamp(options.initialRate, options.minRate, options.maxRate),
  phase: "SlowStart",
  lastMaxRate: options.initialRate,
  k: 0,
  epochMillis: Number.NEGATIVE_INFINITY,
  hintRate: Number.POSITIVE_INFINITY,
  headerRate: Number.POSITIVE_INFINITY,
  requestSamples: [],
  tokensPerSecond: undefined,
  hintTokens: Number.POSITIVE_INFINITY,
  tokenSamples: [],
  accepted: { slot: Number.NEGATIVE_INFINITY, counts: Array.from({ length: SLOTS }, () => 0) }
})

/**
 * A success of a call admitted at `admittedAtMillis`. `saturated` says whether callers were waiting for the
 * rate: only then does the rate grow, so an idle limiter does not drift upwards.
 *
 * @since 0.1.0
 * @category transitions
 */
export const onSuccess = (
  state: State,
  event: { readonly nowMillis: number; readonly admittedAtMillis: number; readonly saturated: boolean },
  options: Resolved
): State => {
  const accepted = record(state.accepted, event.admittedAtMillis)
  if (!event.saturated) return { ...state, accepted }
  const ceiling = Math.min(options.maxRate, ceilingOf(state))
  const roundTrip = Math.max(MIN_ROUND_TRIP_MILLIS, event.nowMillis - event.admittedAtMillis) / 1000
  const step = state.rate + Math.max(options.growth, options.roundTripGrowth / roundTrip)
  const t = (event.nowMillis - state.epochMillis) / 1000 - state.k
  const target = state.phase === "SlowStart" ? step : Math.min(step, state.lastMaxRate + options.scale * t ** 3)
  const rate = clamp(Math.max(state.rate, target), options.minRate, Math.max(options.minRate, ceiling))
  return { ...state, accepted, rate }
}

/**
 * The cut on leaving slow start is half as deep: `W` is then the rate accepted over the ramp, which the slow
 * first part of the ramp already drags below the limit.
 */
const halfCut = (beta: number) => 1 - (1 - beta) / 2

const decrease = (state: State, event: ThrottleEvent, options: Resolved) => {
  // Up to the refused call's admission: calls admitted after it are still out, and would read as refused.
  const until = Math.min(event.nowMillis, event.admittedAtMillis)
  const measured = measure(state.accepted, event.sinceMillis, until)
  // No success at all in the window says nothing about the limit: fall back to the rate itself.
  const cap = measured !== undefined && measured > 0 ? measured : state.rate
  const lastMaxRate = Math.max(options.minRate, Math.min(state.rate, cap))
  const beta = state.phase === "SlowStart" ? halfCut(options.beta) : options.beta
  return {
    ...state,
    phase: "Avoidance" as const,
    lastMaxRate,
    rate: Math.max(options.minRate, lastMaxRate * beta),
    k: Math.cbrt((lastMaxRate * (1 - beta)) / options.scale),
    epochMillis: event.nowMillis
  }
}

/** Sets the rate to a limit the server named, without probing past it. */
const jumpTo = (state: State, rate: number, nowMillis: number, options: Resolved): State => {
  const target = clamp(rate, options.minRate, options.maxRate)
  return { ...state, phase: "Avoidance", rate: target, lastMaxRate: target, k: 0, epochMillis: nowMillis }
}

/**
 * What the limiter knows when a 429 arrives: when the failed call was admitted, and since when traffic flowed
 * freely (the end of the previous hold), so that the accepted rate is measured over sending time only.
 *
 * @since 0.1.0
 * @category models
 */
export interface ThrottleEvent {
  readonly nowMillis: number
  readonly admittedAtMillis: number
  readonly sinceMillis: number
}

/**
 * A 429 without a usable limit in its body.
 *
 * @since 0.1.0
 * @category transitions
 */
export const onThrottle = (state: State, event: ThrottleEvent, options: Resolved): State =>
  event.admittedAtMillis <= state.epochMillis ? state : decrease(state, event, options)

/**
 * A 429 whose body named the limit. A request limit becomes the ceiling and the rate; if the rate was already at
 * or under it, this is an ordinary decrease under the ceiling. A token limit sets the token rate.
 *
 * @since 0.1.0
 * @category transitions
 */
export const onHint = (
  state: State,
  event: ThrottleEvent & { readonly hint: RateLimitHeaders.BodyLimitHint },
  options: Resolved
): State => {
  const perSecond = (event.hint.limit * 1000 * options.hintSafety) / windowMillis(event.hint.per)
  if (!(perSecond > 0)) return state
  if (event.hint.kind === "tokens") {
    return { ...state, hintTokens: perSecond, tokensPerSecond: Math.min(perSecond, state.tokensPerSecond ?? perSecond) }
  }
  const next = { ...state, hintRate: perSecond }
  const ceiling = ceilingOf(next)
  if (event.admittedAtMillis <= state.epochMillis) return { ...next, rate: Math.min(next.rate, ceiling) }
  return state.rate <= ceiling ? decrease(next, event, options) : jumpTo(next, ceiling, event.nowMillis, options)
}

/**
 * The rate, per second, that one `x-ratelimit-*` window names: its quota over the period it is counted in
 * (`limit` per minute for OpenAI-style headers, `q` per `w` for an IETF policy). `remaining` and `reset` describe
 * the burst the server allows right now, which is usually far smaller than the period's quota, so they are not a
 * rate: the limiter reads them as a cap on the next sends instead. `undefined` when the window names no period.
 *
 * @since 0.1.0
 * @category getters
 */
export const sample = (window: RateLimitHeaders.LimitWindow | undefined): number | undefined => {
  if (window?.limit === undefined || window.periodMillis === undefined) return undefined
  if (!(window.limit > 0) || !(window.periodMillis > 0)) return undefined
  return (window.limit * 1000) / window.periodMillis
}

const push = (samples: Samples, value: number): Samples => [...samples.slice(-(SAMPLES - 1)), value]

/**
 * The `x-ratelimit-*` headers of any answer. The estimate (minimum of the recent samples, times `headerSafety`)
 * caps the rate; while still probing, the first estimate becomes the rate.
 *
 * @since 0.1.0
 * @category transitions
 */
export const onHeaders = (
  state: State,
  event: { readonly nowMillis: number; readonly info: RateLimitHeaders.RateLimitInfo },
  options: Resolved
): State => {
  let next = state
  const tokens = sample(event.info.tokens)
  if (tokens !== undefined) {
    const tokenSamples = push(next.tokenSamples, tokens)
    const estimate = Math.min(...tokenSamples) * options.headerSafety
    next = { ...next, tokenSamples, tokensPerSecond: Math.min(estimate, next.hintTokens) }
  }
  const requests = sample(event.info.requests)
  if (requests === undefined) return next
  const requestSamples = push(next.requestSamples, requests)
  next = { ...next, requestSamples, headerRate: Math.min(...requestSamples) * options.headerSafety }
  const ceiling = ceilingOf(next)
  if (next.phase === "SlowStart") return jumpTo(next, ceiling, event.nowMillis, options)
  return { ...next, rate: clamp(Math.min(next.rate, ceiling), options.minRate, options.maxRate) }
}
