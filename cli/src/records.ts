/**
 * The lines of the results file: one per input id (or per input line without a usable id), as JSON.
 *
 * @since 0.1.0
 */
import type { GrokApi, GrokError } from "grok-resilience"
import { GrokClient } from "grok-resilience"

/**
 * An input id: a non-empty string or a finite number, written back exactly as given.
 *
 * @since 0.1.0
 * @category models
 */
export type Id = string | number

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
export const idKey = (id: Id): string => `i${String(id)}`

/**
 * The key of an input line that has no usable id.
 *
 * @since 0.1.0
 * @category keys
 */
export const lineKey = (line: number): string => `l${line}`

/**
 * Whether a value is a usable id.
 *
 * @since 0.1.0
 * @category guards
 */
export const isId = (u: unknown): u is Id =>
  (typeof u === "string" && u.length > 0) || (typeof u === "number" && Number.isFinite(u))

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
 * The line for an id that was not sent because an earlier call showed that none can succeed (a refused key, no
 * credits left).
 *
 * @since 0.1.0
 * @category constructors
 */
export const notSent = (id: Id, cause: GrokError.GrokError): ErrorRecord => ({
  id,
  ok: false,
  error: {
    _tag: cause._tag,
    message: `Not sent: an earlier call failed with ${cause._tag}, which every call would. ${cause.message}`,
    reason: "NotSent"
  },
  attempts: 0
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
 * Reads one results line back; `undefined` when it is not a complete, well-formed results line.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readBack = (text: string): Seen | undefined => {
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
  if (isId(line.id)) {
    const reason =
      typeof line.error === "object" && line.error !== null ? (line.error as { reason?: unknown }).reason : undefined
    return { key: idKey(line.id), ok: line.ok, retriable: !line.ok && reason !== INVALID_INPUT }
  }
  if (line.id === null && typeof line.line === "number") return { key: lineKey(line.line), ok: false, retriable: false }
  return undefined
}
