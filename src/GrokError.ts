/**
 * The typed error channel of every Grok call, and `classify`, the one function that turns an HTTP answer or a
 * transport failure into a success or exactly one of these errors.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as GrokApi from "./GrokApi.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import {
  CREDIT_STATUSES,
  CREDITS,
  HTML,
  KEY_STATUSES,
  parseJson,
  transientReason,
  truncate,
  validationReason,
  WRONG_KEY
} from "./internal/classifyRules.js"
import { scrub } from "./Redaction.js"

/** Fields every error carries; all optional because an error raised on our side has no response. */
const common = {
  /** HTTP status of the answer, where there was one. */
  status: Schema.optional(Schema.Number),
  /** `x-request-id` of the answer, to quote to xAI support. */
  requestId: Schema.optional(Schema.String),
  /** The server's own error message (scrubbed and truncated). */
  detail: Schema.optional(Schema.String),
  /** The error body as received (scrubbed and truncated). */
  body: Schema.optional(Schema.String),
  /** `x-should-retry` from the server, which overrides the default retryability. */
  shouldRetry: Schema.optional(Schema.Boolean),
  /** What a stream delivered before it failed: its text so far and how many chunks or events. */
  received: Schema.optional(Schema.Struct({ text: Schema.String, chunks: Schema.Number })),
  /** True when the call could have retried this failure but the client's retry budget was spent. */
  retryBudgetSpent: Schema.optional(Schema.Boolean)
}

const suffix = (self: { readonly status?: number | undefined; readonly requestId?: string | undefined }) =>
  [
    self.status !== undefined ? `status ${self.status}` : undefined,
    self.requestId ? `request ${self.requestId}` : undefined
  ]
    .filter(Predicate.isString)
    .join(", ")

const compose = (
  headline: string,
  self: {
    readonly detail?: string | undefined
    readonly status?: number | undefined
    readonly requestId?: string | undefined
    readonly received?: { readonly text: string; readonly chunks: number } | undefined
    readonly retryBudgetSpent?: boolean | undefined
  }
) => {
  const where = suffix(self)
  const received = self.received
    ? `; the stream had delivered ${self.received.chunks} chunks (${self.received.text.length} chars of text)`
    : ""
  const budget = self.retryBudgetSpent ? "; not retried: the client's retry budget is spent" : ""
  return `${headline}${self.detail ? `: ${self.detail}` : ""}${received}${budget}${where ? ` (${where})` : ""}`
}

/**
 * 429 for requests or tokens. Retryable after `retryAfterMillis` when the server said how long.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...common,
  /** Which limit was hit, from the body or the `x-ratelimit-remaining-*` header that reached 0. */
  limit: Schema.Literal("requests", "tokens", "unknown"),
  retryAfterMillis: Schema.optional(Schema.Number),
  info: Schema.optional(RateLimitHeaders.RateLimitInfo),
  hint: Schema.optional(RateLimitHeaders.BodyLimitHint)
}) {
  get isRetryable(): boolean {
    return this.shouldRetry ?? true
  }
  override get message(): string {
    const wait = this.retryAfterMillis !== undefined ? `; the server asks to wait ${this.retryAfterMillis} ms` : ""
    return compose(`Rate limited on ${this.limit}${wait}. Lower the request rate or configure the RateLimiter`, this)
  }
}

/**
 * Credits used up or the monthly spending limit reached (xAI answers 429 or 403). Retrying will not help.
 *
 * @since 0.1.0
 * @category errors
 */
export class QuotaExhausted extends Schema.TaggedError<QuotaExhausted>()("QuotaExhausted", common) {
  get isRetryable(): boolean {
    return this.shouldRetry ?? false
  }
  override get message(): string {
    return compose(
      "Credits exhausted or spending limit reached: buy credits or raise the limit in the xAI console",
      this
    )
  }
}

/**
 * The API key is wrong, missing or lacks permission (xAI sends a wrong key as 400).
 *
 * @since 0.1.0
 * @category errors
 */
export class AuthError extends Schema.TaggedError<AuthError>()("AuthError", {
  ...common,
  reason: Schema.Literal("InvalidKey", "PermissionDenied")
}) {
  get isRetryable(): boolean {
    return this.shouldRetry ?? false
  }
  override get message(): string {
    const headline =
      this.reason === "InvalidKey"
        ? "The API key was refused: check XAI_API_KEY"
        : "The API key lacks permission for this request: check the key's ACLs and the model name"
    return compose(headline, this)
  }
}

/**
 * The request itself is wrong: the server refused it (400, 404, 405, 413, 415, 422) or it failed our own schema.
 *
 * @since 0.1.0
 * @category errors
 */
export class Validation extends Schema.TaggedError<Validation>()("Validation", {
  ...common,
  reason: Schema.Literal(
    "BadRequest",
    "NotFound",
    "MethodNotAllowed",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "Unprocessable",
    "InvalidRequest",
    "InvalidInput",
    "Redirected",
    "ResponseTooLarge"
  )
}) {
  get isRetryable(): boolean {
    return this.shouldRetry ?? false
  }
  override get message(): string {
    const headline =
      this.reason === "InvalidRequest"
        ? "The request failed validation before it was sent"
        : this.reason === "InvalidInput"
          ? "The input is invalid"
          : this.reason === "Redirected"
            ? "The server answered with a redirect, which is never followed: check the base URL"
            : this.reason === "ResponseTooLarge"
              ? "The answer is larger than the client accepts"
              : `The server refused the request as invalid (${this.reason})`
    return compose(headline, this)
  }
}

/**
 * A failure that may pass: 408, 409, 5xx and 529, transport failures, timeouts, bodies cut short or not JSON,
 * HTML error pages, an xAI error object sent with HTTP 200, and a stream that was cut (`StreamCut`) or went
 * silent for its idle timeout (`StreamStalled`).
 *
 * @since 0.1.0
 * @category errors
 */
export class Transient extends Schema.TaggedError<Transient>()("Transient", {
  ...common,
  reason: Schema.Literal(
    "ServerError",
    "Overloaded",
    "RequestTimeout",
    "Conflict",
    "Timeout",
    "ConnectionFailed",
    "MalformedBody",
    "HtmlBody",
    "ErrorInBody",
    "UnexpectedStatus",
    "StreamCut",
    "StreamStalled"
  ),
  /** The server's `Retry-After` on a 503 or other 5xx, honoured by the retry policy like a 429's. */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  get isRetryable(): boolean {
    return this.shouldRetry ?? true
  }
  override get message(): string {
    return compose(`Transient failure (${this.reason}); retrying usually helps`, this)
  }
}

/**
 * Refused on our side before anything was sent: the admission queue shed it, its deadline ran out, the shared
 * limiter was unavailable, or the model's circuit breaker was open for longer than the call could wait
 * (`retryAfterMillis` then says when the next probe may start).
 *
 * @since 0.1.0
 * @category errors
 */
export class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {
  ...common,
  reason: Schema.Literal("QueueFull", "DeadlineExceeded", "LimiterUnavailable", "CircuitOpen"),
  /** CircuitOpen: the time until the breaker lets its next probe through, at the earliest. */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  get isRetryable(): boolean {
    return false
  }
  override get message(): string {
    const headline =
      this.reason === "QueueFull"
        ? "Shed: the admission queue is full and this call had the lowest priority"
        : this.reason === "DeadlineExceeded"
          ? "The call's time budget ran out before it could complete"
          : this.reason === "LimiterUnavailable"
            ? "The shared rate limiter is unavailable and the limiter is set to fail closed"
            : `Circuit open: the model kept failing and the call could not wait for the next probe${this.retryAfterMillis !== undefined ? ` (due in ${Math.ceil(this.retryAfterMillis)} ms)` : ""}`
    return compose(headline, this)
  }
}

/**
 * Every error a Grok call can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type GrokError = RateLimited | QuotaExhausted | AuthError | Validation | Transient | Rejected

/**
 * The tags of `GrokError`, for metrics and logs.
 *
 * @since 0.1.0
 * @category models
 */
export type GrokErrorTag = GrokError["_tag"]

/**
 * @since 0.1.0
 * @category schemas
 */
export const GrokError = Schema.Union(RateLimited, QuotaExhausted, AuthError, Validation, Transient, Rejected)

const tags: ReadonlySet<string> = new Set(GrokError.members.map((member) => member._tag))

/**
 * @since 0.1.0
 * @category guards
 */
export const isGrokError = (u: unknown): u is GrokError =>
  Predicate.hasProperty(u, "_tag") && tags.has(String(u._tag)) && Predicate.hasProperty(u, "isRetryable")

/**
 * Whether the retry policy may try again after this error.
 *
 * @since 0.1.0
 * @category guards
 */
export const isRetryable = (error: GrokError): boolean => error.isRetryable

/**
 * An HTTP answer as classification sees it.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpAnswer {
  readonly status: number
  readonly headers: RateLimitHeaders.HeaderInput
  readonly body: string
  /** Wall-clock milliseconds when the answer arrived, to resolve HTTP-date `Retry-After`. */
  readonly nowMillis: number
  /** Values that must never appear in an error (the API key). */
  readonly secrets?: ReadonlyArray<string>
  /** The headers already parsed, when the caller needed them too. */
  readonly info?: RateLimitHeaders.RateLimitInfo
}

/**
 * A request that got no HTTP answer.
 *
 * @since 0.1.0
 * @category models
 */
export interface TransportFailure {
  readonly reason: "Timeout" | "ConnectionFailed"
  readonly detail?: string
  readonly secrets?: ReadonlyArray<string>
}

const isErrorObject = (json: unknown): boolean =>
  Predicate.isRecord(json) && !("choices" in json) && !("data" in json) && Option.isSome(GrokApi.decodeErrorBody(json))

const limitFrom = (info: RateLimitHeaders.RateLimitInfo, hint: RateLimitHeaders.BodyLimitHint | undefined) =>
  hint?.kind ?? (info.tokens?.remaining === 0 ? "tokens" : info.requests?.remaining === 0 ? "requests" : "unknown")

/**
 * Classifies an HTTP answer: a success yields the parsed JSON body, anything else one `GrokError`.
 *
 * Text rules come first because xAI bends status codes: a wrong key arrives as 400, spent credits as 429 or 403,
 * and an error object can arrive with 200. `x-should-retry` then overrides the retryability of the result.
 *
 * @since 0.1.0
 * @category classification
 */
export const classify = (answer: HttpAnswer): Either.Either<unknown, GrokError> => {
  const ok = answer.status >= 200 && answer.status <= 299
  const json = parseJson(answer.body)
  // The common answer, a 2xx JSON body that is no error object, needs none of the error fields below.
  if (ok && Option.isSome(json) && !isErrorObject(json.value)) return Either.right(json.value)
  const secrets = answer.secrets ?? []
  const info = answer.info ?? RateLimitHeaders.parse(answer.headers, answer.nowMillis)
  const requestId = RateLimitHeaders.header(answer.headers, "x-request-id")
  const errorBody = Option.flatMap(json, GrokApi.decodeErrorBody)
  const detailText = Option.match(errorBody, {
    onNone: () => undefined,
    onSome: (body) => truncate(scrub(GrokApi.errorDetail(body).message, secrets))
  })
  const fields = {
    status: answer.status,
    ...(requestId !== undefined ? { requestId: scrub(requestId, secrets) } : {}),
    ...(detailText !== undefined ? { detail: detailText } : {}),
    ...(answer.body.length > 0 ? { body: truncate(scrub(answer.body, secrets)) } : {}),
    ...(info.shouldRetry !== undefined ? { shouldRetry: info.shouldRetry } : {})
  }
  const text = detailText ?? ""
  if (ok && Option.isNone(json)) {
    return Either.left(new Transient({ ...fields, reason: HTML.test(answer.body) ? "HtmlBody" : "MalformedBody" }))
  }
  if (answer.status === 401 || ((ok || KEY_STATUSES.has(answer.status)) && WRONG_KEY.test(text)))
    return Either.left(new AuthError({ ...fields, reason: "InvalidKey" }))
  if (answer.status === 402 || ((ok || CREDIT_STATUSES.has(answer.status)) && CREDITS.test(text)))
    return Either.left(new QuotaExhausted(fields))
  if (ok) return Either.left(new Transient({ ...fields, reason: "ErrorInBody" }))
  if (answer.status === 429) {
    const hint = RateLimitHeaders.parseBodyLimitHint(text)
    const limit = limitFrom(info, hint)
    const retryAfterMillis = RateLimitHeaders.requestedWaitMillis(info, limit)
    return Either.left(
      new RateLimited({
        ...fields,
        limit,
        info,
        ...(hint !== undefined ? { hint } : {}),
        ...(retryAfterMillis !== undefined ? { retryAfterMillis } : {})
      })
    )
  }
  if (answer.status === 403) return Either.left(new AuthError({ ...fields, reason: "PermissionDenied" }))
  if (answer.status >= 300 && answer.status <= 399) {
    // Following it would resend the key to wherever it points, and drop the prompt on a 302.
    const location = RateLimitHeaders.header(answer.headers, "location")
    const where = location === undefined ? "no location given" : `to ${truncate(scrub(location, secrets))}`
    return Either.left(new Validation({ ...fields, reason: "Redirected", detail: `HTTP ${answer.status} ${where}` }))
  }
  const transient = transientReason(answer.status)
  if (transient !== undefined) {
    // An overloaded server may say how long to back off (503 + Retry-After); the retry policy honours it.
    const wait = info.retryAfterMillis !== undefined ? { retryAfterMillis: info.retryAfterMillis } : {}
    return Either.left(new Transient({ ...fields, ...wait, reason: transient }))
  }
  const validation = validationReason(answer.status)
  if (validation !== undefined) return Either.left(new Validation({ ...fields, reason: validation }))
  if (answer.status >= 400 && answer.status <= 499)
    return Either.left(new Validation({ ...fields, reason: "BadRequest" }))
  return Either.left(new Transient({ ...fields, reason: "UnexpectedStatus" }))
}

/**
 * Classifies a request that got no HTTP answer: always `Transient`.
 *
 * @since 0.1.0
 * @category classification
 */
export const classifyTransport = (failure: TransportFailure): Transient =>
  new Transient({
    reason: failure.reason,
    ...(failure.detail !== undefined ? { detail: truncate(scrub(failure.detail, failure.secrets ?? [])) } : {})
  })
