/**
 * The options of `RateLimiter.layer`, their defaults, and their validation into the limiter's settings.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as AdaptiveRate from "../AdaptiveRate.js"
import type * as RateLimiterStore from "../RateLimiterStore.js"

/**
 * How a `RateLimiter` paces the calls that share it. Every field is optional: `{}` gives an adaptive limiter with
 * a queue of 10,000 and no concurrency cap.
 */
export interface Options {
  /** Requests per second for each budget key. Give this or `requestsPerMinute`, not both. Default: none. */
  readonly requestsPerSecond?: number
  /** Requests per minute for each budget key. Default: none. */
  readonly requestsPerMinute?: number
  /**
   * Requests that may leave back to back after a quiet spell, or to catch up after the process fell behind (a late
   * timer, a GC pause). Default with a request rate: 50 ms worth of it in whole requests, at least 1 (5 at 100/s,
   * 1 below 40/s), well under any server burst of 100 ms or more, so jitter on the way cannot add up past it;
   * in adaptive mode 1.
   */
  readonly burst?: number
  /** Tokens (prompt + completion + reasoning) per minute for each budget key. Default: none. */
  readonly tokensPerMinute?: number
  /**
   * Tokens that may leave back to back. Default: one second's worth (`tokensPerMinute / 60`). A call estimated
   * above it waits until the bucket is full and then runs the budget into debt, so big calls still pass.
   */
  readonly tokenBurst?: number
  /** Calls admitted and not yet finished, across all keys. Default: no cap. */
  readonly maxConcurrency?: number
  /**
   * Callers that may wait; past it the newest caller of the lowest priority is shed with `Rejected("QueueFull")`.
   * Default 10,000.
   */
  readonly maxQueued?: number
  /** The queue wait of a ticket that sets none; past it `Rejected("DeadlineExceeded")`. Default: wait forever. */
  readonly defaultMaxQueueWait?: Duration.DurationInput
  /**
   * Learn the request rate from 429s, their bodies and `x-ratelimit-*` headers. Default: on when no rate
   * (`requestsPer*`, `tokensPerMinute`) is configured. When on together with a request rate, that rate caps it.
   */
  readonly adaptive?: boolean | AdaptiveRate.Options
  /** The shared cooldown after a 429 that says nothing about how long to wait. Default 1 second. */
  readonly cooldownFallback?: Duration.DurationInput
  /**
   * The longest cooldown or hold any answer may impose on the key. A longer one is not applied at all (the call that
   * got it fails on its own wait; the others go on), so one absurd `Retry-After` cannot freeze every call.
   * Default 60 seconds, the longest wait the default retry policy honours.
   */
  readonly maxCooldown?: Duration.DurationInput
  /** The prefix of every budget key. Default `"grok"`. */
  readonly key?: string
  /** Keep one budget per model (`grok:grok-4`), as xAI limits each model separately. Default true. */
  readonly perModel?: boolean
  /** Where the budget lives. Default: a fresh memory store of this limiter. */
  readonly store?: RateLimiterStore.Service
  /**
   * When the store fails: `"fallback"` paces this process alone with a local memory store (and logs a warning);
   * `"reject"` fails the waiting call with `Rejected("LimiterUnavailable")`. Default `"fallback"`.
   */
  readonly onStoreError?: "fallback" | "reject"
}

/**
 * Token pacing that never spends more than `tpm` in any 60 s window, as xAI's sliding minute counts: the burst
 * comes out of the minute's budget, so the refill runs at `(tpm − burst) / 60` per second, never slower than a
 * quarter of the nominal rate when a caller sets a burst close to the whole minute.
 */
const tokenPacing = (tpm: number, burst: number): RateLimiterStore.Gcra => ({
  intervalMillis: 60_000 / Math.max(tpm - burst, tpm / 4),
  burst
})

/** The default burst of a configured request rate covers this much of it. */
const DEFAULT_BURST_MILLIS = 50

/**
 * The burst of a request rate given without one: 50 ms worth, in whole requests, at least 1. A process that fell
 * behind catches up by at most that much (the GCRA never holds more than the burst), and the steady stream
 * keeps a margin under the server's own burst for the jitter of the way there.
 */
export const defaultBurst = (perSecond: number): number =>
  Math.max(1, Math.floor((perSecond * DEFAULT_BURST_MILLIS) / 1000))

/**
 * `RateLimiter.layer` was given an option it cannot work with.
 */
export class InvalidLimiterOptions extends Schema.TaggedError<InvalidLimiterOptions>()("InvalidLimiterOptions", {
  /** The option, e.g. `requestsPerSecond` or `adaptive.beta`. */
  field: Schema.String,
  /** What the option must be. */
  expected: Schema.String,
  /** The value given, as text. */
  actual: Schema.String
}) {
  override get message(): string {
    return `Invalid RateLimiter option ${this.field}: expected ${this.expected}, got ${this.actual}`
  }
}

/**
 * The validated settings the limiter runs on.
 */
export interface Settings {
  readonly requests: RateLimiterStore.Gcra | undefined
  readonly tokens: RateLimiterStore.Gcra | undefined
  /** The burst of the adaptive request rate: `burst`, else 1. */
  readonly burst: number
  readonly maxConcurrency: number
  readonly maxQueued: number
  readonly defaultMaxQueueWaitMillis: number | undefined
  readonly adaptive: AdaptiveRate.Resolved | undefined
  readonly cooldownFallbackMillis: number
  readonly maxCooldownMillis: number
  readonly key: string
  readonly perModel: boolean
  readonly onStoreError: "fallback" | "reject"
}

class Invalid {
  constructor(readonly error: InvalidLimiterOptions) {}
}

const fail = (field: string, expected: string, actual: unknown): never => {
  throw new Invalid(new InvalidLimiterOptions({ field, expected, actual: String(actual) }))
}

const positive = (field: string, value: number | undefined): number | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) fail(field, "a finite number > 0", value)
  return value
}

const atLeastOne = (field: string, value: number | undefined): number | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "number" || !Number.isFinite(value) || value < 1) fail(field, "a finite number ≥ 1", value)
  return value
}

const count = (field: string, value: number | undefined): number | undefined => {
  if (value === undefined) return undefined
  if (!Number.isSafeInteger(value) || value < 1) fail(field, "a whole number ≥ 1", value)
  return value
}

const millis = (field: string, value: Duration.DurationInput | undefined, allowZero: boolean): number | undefined => {
  if (value === undefined) return undefined
  const decoded = Duration.decodeUnknown(value)
  const ms = decoded._tag === "Some" && Duration.isFinite(decoded.value) ? Duration.toMillis(decoded.value) : NaN
  if (!Number.isFinite(ms) || ms < 0 || (!allowZero && ms === 0)) {
    fail(field, allowZero ? "a finite duration ≥ 0" : "a finite duration > 0", value)
  }
  return ms
}

const fraction = (field: string, value: number | undefined, includeOne: boolean): number | undefined => {
  if (value === undefined) return undefined
  if (!(value > 0) || !(includeOne ? value <= 1 : value < 1)) fail(field, includeOne ? "in (0, 1]" : "in (0, 1)", value)
  return value
}

const adaptiveOptions = (options: AdaptiveRate.Options): AdaptiveRate.Resolved => {
  positive("adaptive.initialRate", options.initialRate)
  positive("adaptive.minRate", options.minRate)
  positive("adaptive.maxRate", options.maxRate)
  positive("adaptive.scale", options.scale)
  positive("adaptive.growth", options.growth)
  positive("adaptive.roundTripGrowth", options.roundTripGrowth)
  fraction("adaptive.beta", options.beta, false)
  fraction("adaptive.hintSafety", options.hintSafety, true)
  fraction("adaptive.headerSafety", options.headerSafety, true)
  const resolved = AdaptiveRate.resolve(options)
  if (resolved.maxRate < resolved.minRate) {
    fail("adaptive.maxRate", `a number ≥ adaptive.minRate (${resolved.minRate})`, resolved.maxRate)
  }
  return resolved
}

const settings = (options: Options): Settings => {
  const rps = positive("requestsPerSecond", options.requestsPerSecond)
  const rpm = positive("requestsPerMinute", options.requestsPerMinute)
  if (rps !== undefined && rpm !== undefined) {
    fail("requestsPerMinute", "to be absent when requestsPerSecond is given", rpm)
  }
  const givenBurst = atLeastOne("burst", options.burst)
  const burst = givenBurst ?? 1
  const tpm = positive("tokensPerMinute", options.tokensPerMinute)
  const tokenBurst = atLeastOne("tokenBurst", options.tokenBurst)
  if (tokenBurst !== undefined && tpm === undefined) fail("tokenBurst", "to come with tokensPerMinute", tokenBurst)
  const perSecond = rps ?? (rpm !== undefined ? rpm / 60 : undefined)
  const requests =
    perSecond !== undefined
      ? { intervalMillis: 1000 / perSecond, burst: givenBurst ?? defaultBurst(perSecond) }
      : undefined
  const tokens = tpm !== undefined ? tokenPacing(tpm, tokenBurst ?? Math.max(1, tpm / 60)) : undefined
  const adaptiveInput = options.adaptive ?? (requests === undefined && tokens === undefined)
  let adaptive: AdaptiveRate.Resolved | undefined
  if (adaptiveInput !== false) {
    adaptive = adaptiveOptions(adaptiveInput === true ? {} : adaptiveInput)
    if (perSecond !== undefined) adaptive = { ...adaptive, maxRate: Math.min(adaptive.maxRate, perSecond) }
  }
  const key = options.key ?? "grok"
  if (typeof key !== "string" || key.length === 0) fail("key", "a non-empty string", key)
  const onStoreError = options.onStoreError ?? "fallback"
  if (onStoreError !== "fallback" && onStoreError !== "reject")
    fail("onStoreError", `"fallback" or "reject"`, onStoreError)
  return {
    requests,
    tokens,
    burst,
    maxConcurrency: count("maxConcurrency", options.maxConcurrency) ?? Number.POSITIVE_INFINITY,
    maxQueued: count("maxQueued", options.maxQueued) ?? 10_000,
    defaultMaxQueueWaitMillis: millis("defaultMaxQueueWait", options.defaultMaxQueueWait, false),
    adaptive,
    cooldownFallbackMillis: millis("cooldownFallback", options.cooldownFallback, true) ?? 1_000,
    maxCooldownMillis: millis("maxCooldown", options.maxCooldown, false) ?? 60_000,
    key,
    perModel: options.perModel ?? true,
    onStoreError
  }
}

/**
 * Checks every option and fills in the defaults; the first invalid option becomes the error.
 */
export const validate = (options: Options): Either.Either<Settings, InvalidLimiterOptions> => {
  try {
    return Either.right(settings(options))
  } catch (error) {
    if (error instanceof Invalid) return Either.left(error.error)
    throw error
  }
}
