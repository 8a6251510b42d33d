/**
 * The lines of the results file: one per input id (or per input line without a usable id), as JSON.
 *
 * @since 0.1.0
 */
import type { GrokApi, GrokError } from "grok-resilience"
import { GrokClient, Redaction } from "grok-resilience"
import * as JsonText from "./jsonText.js"

/**
 * An input id, kept as its JSON text so that it is written back byte for byte: `12345678901234567890`, `-0` and
 * `1e21` come back as written and stay distinct (`JSON.parse` would round or rewrite them). A string id is known by
 * its characters (`"a"` and `"\u0061"` are one id), a number id by its text (`1` and `1.0` are two ids); `1` and
 * `"1"` are the same id.
 *
 * @since 0.1.0
 * @category models
 */
export interface Id {
  /** The id's JSON text as written in the input: a string literal or a number. */
  readonly json: string
  /** What identifies it in the sets of seen and finished ids (see `idKey`). */
  readonly key: string
}

const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/

/**
 * The id whose JSON text is `json` (as found by `JsonText.outline`); undefined when it is not a non-empty string or
 * a number.
 *
 * @since 0.2.0
 * @category constructors
 */
export const idFromJson = (json: string): Id | undefined => {
  if (NUMBER.test(json)) return { json, key: `i${json}` }
  if (!json.startsWith('"')) return undefined
  let text: unknown
  try {
    text = JSON.parse(json)
  } catch {
    return undefined
  }
  return typeof text === "string" && text.length > 0 ? { json, key: `i${text}` } : undefined
}

/**
 * The id as text: a string id's characters, a number id's text as written (`7` → `7`, `"p0"` → `p0`); distinct ids
 * give distinct texts, and `1` and `"1"` (one id) give the same.
 *
 * @since 0.2.0
 * @category keys
 */
export const idText = (id: Id): string => id.key.slice(1)

/**
 * The id of a string (tests, and ids made by the program).
 *
 * @since 0.2.0
 * @category constructors
 */
export const stringId = (text: string): Id => ({ json: JSON.stringify(text), key: `i${text}` })

/**
 * A successful call.
 *
 * @since 0.1.0
 * @category models
 */
export interface OkRecord {
  readonly id: Id
  readonly ok: true
  readonly content: string | null
  readonly usage: GrokApi.Usage | null
  readonly attempts: number
  readonly requestId: string | null
  /** The fallback model that answered (`--fallback-model`), when the line's own did not. */
  readonly fallbackModel?: string
}

/**
 * The error of a failed line: the `GrokError` tag, its message (never containing the key), and what else it knew.
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorInfo {
  readonly _tag: GrokError.GrokErrorTag
  readonly message: string
  readonly status?: number
  readonly reason?: string
  readonly requestId?: string
}

/**
 * A failed call, or an input line that could not become a call. `id` is null (and `line` set) when the line had
 * no usable id or repeated an earlier one, so that every id still has exactly one line.
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorRecord {
  readonly id: Id | null
  readonly line?: number
  readonly ok: false
  readonly error: ErrorInfo
  readonly attempts: number
}

/**
 * @since 0.1.0
 * @category models
 */
export type ResultLine = OkRecord | ErrorRecord

/**
 * The `error.reason` of an input line the CLI refused (bad JSON, no id, duplicate id, no prompt).
 *
 * @since 0.1.0
 * @category constants
 */
export const INVALID_INPUT = "InvalidInput"

/**
 * The key of an id in the sets of seen and finished ids (`1` and `"1"` are the same id).
 *
 * @since 0.1.0
 * @category keys
 */
export const idKey = (id: Id): string => id.key

/**
 * The key of an input line that has no usable id.
 *
 * @since 0.1.0
 * @category keys
 */
export const lineKey = (line: number): string => `l${line}`

/**
 * The line for a successful call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const ok = (
  id: Id,
  result: Pick<GrokClient.ChatResult, "content" | "usage" | "attempts" | "requestId">,
  fallbackModel?: string
): OkRecord => ({
  id,
  ok: true,
  content: result.content,
  usage: result.usage ?? null,
  attempts: result.attempts,
  requestId: result.requestId ?? null,
  ...(fallbackModel !== undefined ? { fallbackModel } : {})
})

/**
 * The line for a call that failed with a `GrokError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const failed = (id: Id, error: GrokError.GrokError): ErrorRecord => ({
  id,
  ok: false,
  error: {
    _tag: error._tag,
    message: error.message,
    ...(error.status !== undefined ? { status: error.status } : {}),
    ...("reason" in error ? { reason: error.reason } : {}),
    ...(error.requestId !== undefined ? { requestId: error.requestId } : {})
  },
  attempts: GrokClient.attemptsOf(error) ?? 0
})

/**
 * The line for an input line the CLI refused before any call.
 *
 * @since 0.1.0
 * @category constructors
 */
export const invalid = (id: Id | null, line: number, message: string): ErrorRecord => ({
  id,
  ...(id === null ? { line } : {}),
  ok: false,
  error: { _tag: "Validation", message, reason: INVALID_INPUT },
  attempts: 0
})

/**
 * The line for a call that died of a defect (a bug, or an answer beyond what the client can handle, say one nested
 * too deeply): that id fails, the run goes on. Retrying may help, so `--retry-failed` sends it again.
 *
 * @since 0.2.0
 * @category constructors
 */
export const defect = (id: Id, cause: unknown, attempts: number, secrets: ReadonlyArray<string>): ErrorRecord => {
  const what = cause instanceof Error ? `${cause.name}: ${cause.message}` : `a thrown ${typeof cause}`
  return {
    id,
    ok: false,
    error: {
      _tag: "Transient",
      message: Redaction.scrub(`Failed inside the client: ${what}`, secrets).slice(0, 300),
      reason: "Defect"
    },
    attempts
  }
}

/**
 * Why a run stopped calling before every id was sent: no further call could succeed. `message` completes
 * "Not sent: …".
 *
 * @since 0.2.0
 * @category models
 */
export interface Stop {
  readonly _tag: GrokError.GrokErrorTag
  readonly message: string
}

/**
 * The stop after an error that every call would get (a refused key, no credits left).
 *
 * @since 0.2.0
 * @category constructors
 */
export const stopAfter = (cause: GrokError.GrokError): Stop => ({
  _tag: cause._tag,
  message: `an earlier call failed with ${cause._tag}, which every call would. ${cause.message}`
})

/**
 * The line for an id that was not sent because the run stopped calling (see `Stop`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const notSent = (id: Id, stop: Stop): ErrorRecord => ({
  id,
  ok: false,
  error: { _tag: stop._tag, message: `Not sent: ${stop.message}`, reason: "NotSent" },
  attempts: 0
})

/**
 * The line for a call that was waiting (for quota or for its next retry) when the run stopped calling.
 *
 * @since 0.2.0
 * @category constructors
 */
export const gaveUp = (id: Id, stop: Stop, attempts: number): ErrorRecord => ({
  id,
  ok: false,
  error: { _tag: stop._tag, message: `Gave up: ${stop.message}`, reason: "GaveUp" },
  attempts
})

/**
 * What the journal remembers of a line read back from the results file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Seen {
  readonly key: string
  readonly ok: boolean
  /** Whether `--retry-failed` sends this id again: a call that failed, not an input line the CLI refused. */
  readonly retriable: boolean
}

/**
 * The JSON text of a results line, with the id's text spliced in as written. Should a part of the answer be beyond
 * `JSON.stringify` (nested too deeply by a hostile server), the line is written without its `usage`.
 *
 * @since 0.2.0
 * @category encoding
 */
export const encode = (record: ResultLine): string => {
  const { id, ...rest } = record
  let body: string
  try {
    body = JSON.stringify(rest)
  } catch {
    body = JSON.stringify({ ...rest, usage: null })
  }
  return `{"id":${id === null ? "null" : id.json},${body.slice(1)}`
}

/**
 * A results line read back whole, its id kept as the text it was written with; `undefined` when it is not a
 * complete, well-formed results line (see `readBack`).
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (text: string): ResultLine | undefined => {
  if (readBack(text) === undefined) return undefined
  const shape = JsonText.outline(text, JsonText.MAX_DEPTH)
  const json = shape._tag === "Outline" ? shape.id : undefined
  const id = json === undefined ? null : (idFromJson(json) ?? null)
  return { ...(JSON.parse(text) as object), id } as ResultLine
}

/**
 * Reads one results line back; `undefined` when it is not a complete, well-formed results line.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readBack = (text: string): Seen | undefined => {
  const shape = JsonText.outline(text, JsonText.MAX_DEPTH)
  if (shape._tag === "TooDeep" || shape.idMembers > 1) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined
  const line = value as {
    readonly id?: unknown
    readonly ok?: unknown
    readonly line?: unknown
    readonly error?: unknown
  }
  if (typeof line.ok !== "boolean") return undefined
  const id = shape.id === undefined ? undefined : idFromJson(shape.id)
  if (id !== undefined) {
    const reason =
      typeof line.error === "object" && line.error !== null ? (line.error as { reason?: unknown }).reason : undefined
    return { key: id.key, ok: line.ok, retriable: !line.ok && reason !== INVALID_INPUT }
  }
  if (line.id === null && typeof line.line === "number") return { key: lineKey(line.line), ok: false, retriable: false }
  return undefined
}
