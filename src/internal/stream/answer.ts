/**
 * What a stream decoder knows about the HTTP answer whose body it reads.
 */
import type * as Duration from "effect/Duration"
import type * as RateLimitHeaders from "../../RateLimitHeaders.js"

export interface StreamAnswer {
  readonly status: number
  readonly contentType?: string | undefined
  readonly requestId?: string | undefined
  /** All headers, when at hand: a JSON body in place of a stream is then classified with its Retry-After etc. */
  readonly headers?: RateLimitHeaders.HeaderInput | undefined
  /** Values that must never appear in an error (the API key). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** The longest silence, no byte at all, before the stream fails with `Transient` `StreamStalled`. */
  readonly idleTimeout: Duration.DurationInput
  /** The most bytes held for one event, or for a body read whole. Default `DEFAULT_MAX_EVENT_BYTES`. */
  readonly maxEventBytes?: number | undefined
}

/** 8 MiB: a `response.completed` event repeats the whole response, reasoning and citations included. */
export const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024

const JSON_TYPE = /^\s*application\/([\w.-]+\+)?json\b/i

/** A body to read whole and classify rather than parse as events: a JSON content type, or any status not 2xx. */
export const isWholeBody = (answer: StreamAnswer): boolean =>
  answer.status < 200 || answer.status > 299 || JSON_TYPE.test(answer.contentType ?? "")

/** The headers classification reads: the full set when given, else what the answer named. */
export const headersOf = (answer: StreamAnswer): RateLimitHeaders.HeaderInput =>
  answer.headers ?? {
    ...(answer.requestId !== undefined ? { "x-request-id": answer.requestId } : {}),
    ...(answer.contentType !== undefined ? { "content-type": answer.contentType } : {})
  }
