/**
 * The errors a stream ends with. Each one carries what the stream had delivered (`received`), so a caller can tell a
 * stream that failed after half an answer from one that failed before the first word, and can never mistake it
 * for a whole answer.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Predicate from "effect/Predicate"
import * as GrokError from "../../GrokError.js"
import { scrub } from "../../Redaction.js"
import { headersOf, type StreamAnswer } from "./answer.js"

/** What the decoder has passed on so far; mutable, owned by one run of one stream. */
export interface Progress {
  text: string
  chunks: number
}

/** The text kept for `received`: enough for any answer a model writes, bounded against a stream that never ends. */
export const MAX_RECEIVED_CHARS = 1_000_000

export const makeProgress = (): Progress => ({ text: "", chunks: 0 })

export const addText = (progress: Progress, text: string): void => {
  const room = MAX_RECEIVED_CHARS - progress.text.length
  if (room > 0) progress.text += text.length > room ? text.slice(0, room) : text
}

const MAX_TEXT = 2_000
const truncate = (text: string) =>
  text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}… (${text.length} chars)` : text

/** The same error with `received` (and optionally `body`) set; the other fields are kept as they are. */
export const withReceived = (
  error: GrokError.GrokError,
  progress: Progress,
  secrets: ReadonlyArray<string>,
  body?: string
): GrokError.GrokError => {
  const received = { text: scrub(progress.text, secrets), chunks: progress.chunks }
  const { _tag, ...fields } = error
  const patch = { received, ...(body !== undefined ? { body: truncate(scrub(body, secrets)) } : {}) }
  switch (error._tag) {
    case "RateLimited":
      return new GrokError.RateLimited({ ...(fields as typeof error), ...patch })
    case "QuotaExhausted":
      return new GrokError.QuotaExhausted({ ...(fields as typeof error), ...patch })
    case "AuthError":
      return new GrokError.AuthError({ ...(fields as typeof error), ...patch })
    case "Validation":
      return new GrokError.Validation({ ...(fields as typeof error), ...patch })
    case "Transient":
      return new GrokError.Transient({ ...(fields as typeof error), ...patch })
    case "Rejected":
      return new GrokError.Rejected({ ...(fields as typeof error), ...patch })
  }
}

/** A `Transient` about this answer, with its status and request id. */
export const transient = (answer: StreamAnswer, reason: GrokError.Transient["reason"], detail: string) =>
  new GrokError.Transient({
    reason,
    detail: truncate(scrub(detail, answer.secrets ?? [])),
    status: answer.status,
    ...(answer.requestId !== undefined ? { requestId: scrub(answer.requestId, answer.secrets ?? []) } : {})
  })

export const stalled = (answer: StreamAnswer) =>
  transient(answer, "StreamStalled", `no data for ${Duration.format(Duration.decode(answer.idleTimeout))}`)

export const tooLarge = (answer: StreamAnswer, limit: number) =>
  transient(answer, "MalformedBody", `one event or body exceeded ${limit} bytes`)

const describe = (cause: unknown): string =>
  cause instanceof Error
    ? `${cause.message}${cause.cause instanceof Error ? `: ${cause.cause.message}` : ""}`
    : String(cause)

/** A failure of the body itself (socket reset mid-stream, …): a GrokError stays as it is, anything else is Transient. */
export const bodyFailure = (answer: StreamAnswer, cause: unknown): GrokError.GrokError =>
  GrokError.isGrokError(cause)
    ? cause
    : transient(answer, "ConnectionFailed", `the body failed mid-stream: ${describe(cause)}`)

/** A body read whole where events were expected: an error object is classified; anything else is malformed. */
export const wholeBody = (answer: StreamAnswer, text: string, nowMillis: number): GrokError.GrokError =>
  Either.match(
    GrokError.classify({
      status: answer.status,
      headers: headersOf(answer),
      body: text,
      nowMillis,
      ...secretsOf(answer)
    }),
    {
      onLeft: (error) => error,
      onRight: () => transient(answer, "MalformedBody", "a JSON body arrived where an event stream was expected")
    }
  )

const secretsOf = (answer: StreamAnswer) => (answer.secrets !== undefined ? { secrets: answer.secrets } : {})

/** A status an error event names itself (`"status": 503`, `"code": "429"`), when it is an HTTP error status. */
const embeddedStatus = (payload: Record<string, unknown>): number | undefined => {
  const nested = Predicate.isRecord(payload.error) ? payload.error : {}
  for (const value of [payload.status, nested.status, payload.code, nested.code]) {
    const status = typeof value === "number" ? value : typeof value === "string" ? Number(value) : Number.NaN
    if (Number.isInteger(status) && status >= 400 && status <= 599) return status
  }
  return undefined
}

/**
 * An error event inside a stream, classified like an error body: `payload` is one of xAI's error shapes (or the
 * `{type: "error", code, message}` of the Responses API, rewritten into one). The status is the one the event
 * names, else the answer's (200, so a plain error object stays `Transient` unless it names the key or credits).
 */
export const eventError = (
  answer: StreamAnswer,
  payload: unknown,
  nowMillis: number,
  headline = "an error event arrived mid-stream"
): GrokError.GrokError => {
  const record = Predicate.isRecord(payload) ? payload : {}
  const status = embeddedStatus(record) ?? answer.status
  const body = "error" in record && record.error !== null ? record : { error: errorObject(record, headline) }
  const classified = GrokError.classify({
    status,
    headers: headersOf(answer),
    body: JSON.stringify(body),
    nowMillis,
    ...secretsOf(answer)
  })
  return Either.match(classified, {
    onLeft: (error) => error,
    onRight: () => transient(answer, "ErrorInBody", headline)
  })
}

const errorObject = (record: Record<string, unknown>, headline: string) => ({
  message: typeof record.message === "string" && record.message.length > 0 ? record.message : headline,
  ...(typeof record.code === "string" || typeof record.code === "number" ? { code: record.code } : {}),
  ...(typeof record.param === "string" ? { param: record.param } : {}),
  ...(typeof record.type === "string" && record.type !== "error" ? { type: record.type } : {})
})
