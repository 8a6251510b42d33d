/**
 * Pure parsers for the rate-limit headers xAI and OpenAI-compatible servers send, into one `RateLimitInfo`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { httpDate } from "./internal/httpDate.js"
import { itemList } from "./internal/structuredFields.js"

/**
 * What a server said about one limit (requests or tokens).
 *
 * @since 0.1.0
 * @category schemas
 */
export const LimitWindow = Schema.Struct({
  limit: Schema.optional(Schema.Number),
  remaining: Schema.optional(Schema.Number),
  /** Milliseconds from the response until the window resets. */
  resetMillis: Schema.optional(Schema.Number),
  /**
   * The period `limit` is counted over, in milliseconds, where the header family says it: 60 s for OpenAI-style
   * `x-ratelimit-limit-*` (a quota per minute), `w` of an IETF `RateLimit-Policy`.
   *
   * @since 0.2.0
   */
  periodMillis: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type LimitWindow = typeof LimitWindow.Type

/**
 * Everything the headers of one response say about pacing.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RateLimitInfo = Schema.Struct({
  /** How long the server asks us to wait, from `retry-after-ms` or `Retry-After` (seconds or HTTP-date). */
  retryAfterMillis: Schema.optional(Schema.Number),
  /** `x-should-retry`: the server's own verdict on retrying, which overrides our table. */
  shouldRetry: Schema.optional(Schema.Boolean),
  requests: Schema.optional(LimitWindow),
  tokens: Schema.optional(LimitWindow)
})

/**
 * @since 0.1.0
 * @category models
 */
export type RateLimitInfo = typeof RateLimitInfo.Type

/**
 * A limit named in a 429 body, e.g. "Requests per Second (actual/limit): 21/20".
 *
 * @since 0.1.0
 * @category schemas
 */
export const BodyLimitHint = Schema.Struct({
  kind: Schema.Literal("requests", "tokens"),
  per: Schema.Literal("second", "minute", "hour", "day"),
  actual: Schema.Number,
  limit: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export type BodyLimitHint = typeof BodyLimitHint.Type

/**
 * Response headers as a WHATWG `Headers`, or a plain object (Node's `IncomingHttpHeaders`, @effect/platform
 * `Headers.Headers`) whose keys may be in any case.
 *
 * @since 0.1.0
 * @category models
 */
export type HeaderInput = Headers | Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * The `RateLimitInfo` of a response that said nothing about pacing.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: RateLimitInfo = {}

const MAX_SECONDS = 1e12
const MAX_MILLIS = MAX_SECONDS * 1000
const MAX_COUNT = Number.MAX_SAFE_INTEGER
/** Above this a legacy `X-RateLimit-Reset` is an epoch second rather than a delta. */
const EPOCH_THRESHOLD = 1e9
const DECIMAL = /^\d+(?:\.\d+)?$/

const bounded = (n: number, max: number): number | undefined =>
  Number.isFinite(n) && n >= 0 && n <= max ? n : undefined

/** A plain non-negative decimal ("30", "1.5") no larger than `max`; signs, exponents and junk give `undefined`. */
const decimal = (value: string | undefined, max: number): number | undefined => {
  const trimmed = value?.trim()
  return trimmed !== undefined && DECIMAL.test(trimmed) ? bounded(Number(trimmed), max) : undefined
}

/** Rounds to whole nanoseconds so that "1.1s" is 1100 and not 1100.0000000000002. */
const roundNanos = (millis: number): number => Math.round(millis * 1e6) / 1e6

const secondsToMillis = (seconds: number | undefined): number | undefined =>
  seconds === undefined ? undefined : bounded(roundNanos(seconds * 1000), MAX_MILLIS)

const read = <A>(headers: HeaderInput, name: string, parser: (value: string) => A | undefined): A | undefined => {
  const value = header(headers, name)
  return value === undefined ? undefined : parser(value)
}

const isWhatwgHeaders = (headers: HeaderInput): headers is Headers =>
  typeof (headers as { readonly get?: unknown }).get === "function"

/**
 * Reads one header by case-insensitive name; the values of a repeated header are joined with ", ".
 *
 * @since 0.1.0
 * @category getters
 */
export const header = (headers: HeaderInput, name: string): string | undefined => {
  if (isWhatwgHeaders(headers)) {
    try {
      return headers.get(name) ?? undefined
    } catch {
      return undefined // an invalid header name
    }
  }
  const lower = name.toLowerCase()
  const key = Object.hasOwn(headers, name)
    ? name
    : Object.hasOwn(headers, lower)
      ? lower
      : Object.keys(headers).find((candidate) => candidate.toLowerCase() === lower)
  const value: unknown = key === undefined ? undefined : headers[key]
  if (typeof value === "string") return value
  if (!Array.isArray(value)) return undefined
  const parts = value.filter((part): part is string => typeof part === "string")
  return parts.length > 0 ? parts.join(", ") : undefined
}

/**
 * Reads `Retry-After` as milliseconds to wait: delay-seconds ("120", also "1.5"), or an HTTP-date (IMF-fixdate,
 * RFC 850 or asctime) measured from `nowMillis` and never negative. Anything else gives `undefined`.
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseRetryAfter = (value: string, nowMillis: number): number | undefined => {
  const trimmed = value.trim()
  if (DECIMAL.test(trimmed)) return secondsToMillis(decimal(trimmed, MAX_SECONDS))
  if (!Number.isFinite(nowMillis)) return undefined
  const date = httpDate(trimmed, nowMillis)
  return date === undefined ? undefined : bounded(Math.max(0, date - nowMillis), MAX_MILLIS)
}

/**
 * Reads `retry-after-ms`, a non-negative number of milliseconds.
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseRetryAfterMs = (value: string): number | undefined => decimal(value, MAX_MILLIS)

/**
 * Reads `x-should-retry`: "true" or "false", in any case.
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseShouldRetry = (value: string): boolean | undefined => {
  const trimmed = value.trim().toLowerCase()
  return trimmed === "true" ? true : trimmed === "false" ? false : undefined
}

const UNIT_MILLIS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, ns: 1e-6 }

/**
 * Reads a Go duration as sent in `x-ratelimit-reset-*` ("6m0s", "1s", "20ms", "1h2m3.5s", "250us", "100ns"), or a
 * bare number of seconds ("30", "0.5"), as milliseconds.
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseDuration = (value: string): number | undefined => {
  const trimmed = value.trim()
  if (DECIMAL.test(trimmed)) return secondsToMillis(decimal(trimmed, MAX_SECONDS))
  if (trimmed.length === 0) return undefined
  const part = /(\d+(?:\.\d+)?)(h|ms|m|s|us|\u00b5s|\u03bcs|ns)/y
  let total = 0
  while (part.lastIndex < trimmed.length) {
    const match = part.exec(trimmed)
    if (match === null) return undefined
    total += Number(match[1]) * UNIT_MILLIS[match[2]!.replace(/[\u00b5\u03bc]/, "u")]!
  }
  return bounded(roundNanos(total), MAX_MILLIS)
}

const limitWindow = (
  limit: number | undefined,
  remaining: number | undefined,
  resetMillis: number | undefined,
  periodMillis?: number
): LimitWindow | undefined =>
  limit === undefined && remaining === undefined && resetMillis === undefined
    ? undefined
    : {
        ...(limit !== undefined ? { limit } : {}),
        ...(remaining !== undefined ? { remaining } : {}),
        ...(resetMillis !== undefined ? { resetMillis } : {}),
        ...(limit !== undefined && periodMillis !== undefined && periodMillis > 0 ? { periodMillis } : {})
      }

/** OpenAI's `limit` is the quota per minute (RPM, TPM); `remaining` is what the burst allows now. */
const OPENAI_PERIOD_MILLIS = 60_000

/** OpenAI style: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, reset as a Go duration. */
const openAiWindow = (headers: HeaderInput, kind: "requests" | "tokens"): LimitWindow | undefined =>
  limitWindow(
    decimal(header(headers, `x-ratelimit-limit-${kind}`), MAX_COUNT),
    decimal(header(headers, `x-ratelimit-remaining-${kind}`), MAX_COUNT),
    read(headers, `x-ratelimit-reset-${kind}`, parseDuration),
    OPENAI_PERIOD_MILLIS
  )

/** Legacy `X-RateLimit-*`: the reset is delta seconds, or epoch seconds once it is past 1e9. */
const legacyWindow = (headers: HeaderInput, nowMillis: number): LimitWindow | undefined => {
  const reset = decimal(header(headers, "x-ratelimit-reset"), MAX_SECONDS)
  const resetMillis =
    reset === undefined || reset <= EPOCH_THRESHOLD
      ? secondsToMillis(reset)
      : bounded(Math.max(0, reset * 1000 - nowMillis), MAX_MILLIS)
  return limitWindow(
    decimal(header(headers, "x-ratelimit-limit"), MAX_COUNT),
    decimal(header(headers, "x-ratelimit-remaining"), MAX_COUNT),
    resetMillis
  )
}

/** IETF draft: `RateLimit` (r = remaining, t = seconds to reset; lowest remaining wins) and `RateLimit-Policy`. */
const ietfWindow = (headers: HeaderInput): LimitWindow | undefined => {
  const states = itemList(header(headers, "ratelimit")).flatMap(({ name, params }) => {
    const remaining = decimal(params.get("r"), MAX_COUNT)
    const resetMillis = secondsToMillis(decimal(params.get("t"), MAX_SECONDS))
    return remaining === undefined && resetMillis === undefined ? [] : [{ name, remaining, resetMillis }]
  })
  const state = states.reduce<(typeof states)[number] | undefined>(
    (best, next) =>
      best === undefined || (next.remaining !== undefined && (best.remaining ?? Infinity) > next.remaining)
        ? next
        : best,
    undefined
  )
  const policies = itemList(header(headers, "ratelimit-policy")).flatMap(({ name, params }) => {
    const quota = decimal(params.get("q"), MAX_COUNT)
    const periodMillis = secondsToMillis(decimal(params.get("w"), MAX_SECONDS))
    return quota === undefined ? [] : [{ name, quota, periodMillis }]
  })
  const policy = policies.find((candidate) => candidate.name === state?.name) ?? policies[0]
  return limitWindow(policy?.quota, state?.remaining, state?.resetMillis, policy?.periodMillis)
}

/** The older draft trio `RateLimit-Limit` (first item of a possible list), `-Remaining`, `-Reset` (delta seconds). */
const draftWindow = (headers: HeaderInput): LimitWindow | undefined =>
  limitWindow(
    decimal(header(headers, "ratelimit-limit")?.split(/[,;]/)[0], MAX_COUNT),
    decimal(header(headers, "ratelimit-remaining"), MAX_COUNT),
    secondsToMillis(decimal(header(headers, "ratelimit-reset"), MAX_SECONDS))
  )

/** Every header `parse` reads starts with one of these (lower case). */
const PACING_PREFIXES = ["x-ratelimit", "ratelimit", "retry-after", "x-should-retry"]

/**
 * Whether any header name could be one `parse` reads: most answers carry none, and looking each of a dozen names
 * up among headers that lack them costs a scan of every key per name.
 */
const mentionsPacing = (headers: HeaderInput): boolean => {
  const pacing = (name: string) => {
    const lower = name.toLowerCase()
    return PACING_PREFIXES.some((prefix) => lower.startsWith(prefix))
  }
  if (!isWhatwgHeaders(headers)) return Object.keys(headers).some(pacing)
  let found = false
  headers.forEach((_, name) => {
    found ||= pacing(name)
  })
  return found
}

/**
 * Reads everything the headers of one response say about pacing. Unknown or malformed values are left out, never
 * thrown; `requests` comes from the most specific family present (OpenAI style, then legacy `X-RateLimit-*`, then
 * IETF `RateLimit`/`RateLimit-Policy`, then the older `RateLimit-*` trio).
 *
 * @example
 * ```ts
 * import { RateLimitHeaders } from "grok-resilience"
 *
 * RateLimitHeaders.parse({ "retry-after": "2", "x-ratelimit-remaining-tokens": "0" }, Date.now())
 * // { retryAfterMillis: 2000, tokens: { remaining: 0 } }
 * ```
 *
 * @since 0.1.0
 * @category parsers
 */
export const parse = (headers: HeaderInput, nowMillis: number): RateLimitInfo => {
  if (!mentionsPacing(headers)) return empty
  const retryAfterMillis =
    read(headers, "retry-after-ms", parseRetryAfterMs) ??
    read(headers, "retry-after", (value) => parseRetryAfter(value, nowMillis))
  const shouldRetry = read(headers, "x-should-retry", parseShouldRetry)
  const requests =
    openAiWindow(headers, "requests") ?? legacyWindow(headers, nowMillis) ?? ietfWindow(headers) ?? draftWindow(headers)
  const tokens = openAiWindow(headers, "tokens")
  return {
    ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {}),
    ...(shouldRetry !== undefined ? { shouldRetry } : {}),
    ...(requests !== undefined ? { requests } : {}),
    ...(tokens !== undefined ? { tokens } : {})
  }
}

const BODY_HINT =
  /\b(requests|tokens)\s+per\s+(second|minute|hour|day)\s*(?:\(\s*actual\s*\/\s*limit\s*\))?\s*:\s*(\d+)\s*\/\s*(\d+)/i

/**
 * Reads the limit an xAI 429 body names, e.g. "Tokens per Minute (actual/limit): 65605/16000".
 *
 * @since 0.1.0
 * @category parsers
 */
export const parseBodyLimitHint = (message: string): BodyLimitHint | undefined => {
  const match = BODY_HINT.exec(message)
  if (match === null) return undefined
  const actual = decimal(match[3], MAX_COUNT)
  const limit = decimal(match[4], MAX_COUNT)
  if (actual === undefined || limit === undefined) return undefined
  return {
    kind: match[1]!.toLowerCase() as BodyLimitHint["kind"],
    per: match[2]!.toLowerCase() as BodyLimitHint["per"],
    actual,
    limit
  }
}

const WINDOW_MILLIS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const

/**
 * The length of a body hint's window in milliseconds.
 *
 * @since 0.1.0
 * @category getters
 */
export const windowMillis = (per: BodyLimitHint["per"]): number => WINDOW_MILLIS[per]

/**
 * How long an answer asks us to wait, the one rule the retry policy, the limiter's cooldown and its holds share:
 * `retry-after-ms` or `Retry-After` first, else the reset of the window that ran out (`limit`'s, when the caller
 * knows which limit was hit; else the later of the windows whose `remaining` is 0). Undefined when it says nothing.
 *
 * @since 0.2.0
 * @category getters
 */
export const requestedWaitMillis = (
  info: RateLimitInfo,
  limit?: "requests" | "tokens" | "unknown"
): number | undefined => {
  if (info.retryAfterMillis !== undefined) return info.retryAfterMillis
  if (limit === "requests" || limit === "tokens") return info[limit]?.resetMillis
  const exhausted = Math.max(
    info.requests?.remaining === 0 ? (info.requests.resetMillis ?? 0) : 0,
    info.tokens?.remaining === 0 ? (info.tokens.resetMillis ?? 0) : 0
  )
  return exhausted > 0 ? exhausted : undefined
}
