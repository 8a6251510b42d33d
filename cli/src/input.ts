/**
 * The input file: JSON lines streamed in constant memory, each turned into a chat call or into the error line
 * that stands for it. Ids are checked for presence and uniqueness as the lines go by.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import type { RateLimiter } from "grok-resilience"
import { GrokApi } from "grok-resilience"
import { describe, UsageError } from "./errors.js"
import * as JsonText from "./jsonText.js"
import { type Fault, type Line, linesOf } from "./lines.js"
import * as Records from "./records.js"

/**
 * One input line ready to send.
 *
 * @since 0.1.0
 * @category models
 */
export interface Call {
  readonly _tag: "Call"
  readonly line: number
  readonly id: Records.Id
  readonly key: string
  readonly request: GrokApi.ChatRequest
  readonly priority: RateLimiter.Priority | undefined
}

/**
 * One input line that cannot be sent, with the error line that answers it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Invalid {
  readonly _tag: "Invalid"
  readonly line: number
  readonly key: string
  readonly record: Records.ErrorRecord
}

/**
 * @since 0.1.0
 * @category models
 */
export type Item = Call | Invalid

/**
 * Request fields copied from an input line to the request; any other field (say, your own metadata) stays local.
 *
 * @since 0.1.0
 * @category constants
 */
export const REQUEST_FIELDS: ReadonlyArray<string> = [
  "model",
  "temperature",
  "top_p",
  "max_completion_tokens",
  "max_tokens",
  "stop",
  "seed",
  "reasoning_effort",
  "response_format",
  "tools",
  "tool_choice",
  "user",
  "presence_penalty",
  "frequency_penalty",
  "search_parameters"
]

const priorities: ReadonlySet<string> = new Set(["critical", "high", "normal", "low"])

const MAX_MESSAGE = 300

const shorten = (text: string): string => (text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text)

/**
 * The longest input line read: a longer one is skipped unread (memory stays bounded) and refused.
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

/** The first problem of a request, with where it is (`messages[0].role: Expected …`), not the schema's outline. */
const firstIssue = (error: ParseResult.ParseError): string => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return error.message
  const path = issue.path.map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`)).join("")
  return path === "" ? issue.message : `${path.slice(path.startsWith(".") ? 1 : 0)}: ${issue.message}`
}

const hex = (byte: number): string => `0x${byte.toString(16).toUpperCase().padStart(2, "0")}`

const describeFault = (line: Line, fault: Fault): string =>
  fault._tag === "NotUtf8"
    ? `not UTF-8: byte ${hex(fault.byte)} at byte offset ${fault.offset} of the line (offset ` +
      `${line.start + fault.offset} of the file); JSON text must be UTF-8`
    : `${fault.bytes} bytes long, over the limit of ${fault.limit} bytes per line; not read`

/**
 * A stateful parser for the lines of one run: it remembers the ids seen (and the line of each), so that a repeated
 * id becomes an error line without an id. Blank lines give `undefined`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parser = (defaults: { readonly model: string }) => {
  const firstLine = new Map<string, number>()

  const invalid = (line: number, id: Records.Id | null, message: string): Invalid => ({
    _tag: "Invalid",
    line,
    key: id === null ? Records.lineKey(line) : Records.idKey(id),
    record: Records.invalid(id, line, `Line ${line}: ${message}`)
  })

  return (line: Line): Item | undefined => {
    if (line.fault !== undefined) return invalid(line.number, null, describeFault(line, line.fault))
    if (line.text.trim() === "") return undefined
    const shape = JsonText.outline(line.text, JsonText.MAX_DEPTH)
    if (shape._tag === "TooDeep") {
      return invalid(line.number, null, `nests arrays and objects deeper than ${shape.limit} levels`)
    }
    let value: unknown
    try {
      value = JSON.parse(line.text)
    } catch (error) {
      return invalid(line.number, null, shorten(`not valid JSON (${describe(error)})`))
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return invalid(line.number, null, "not a JSON object")
    }
    const fields = value as Record<string, unknown>
    if (shape.idMembers > 1) return invalid(line.number, null, 'more than one "id" member')
    const id = shape.id === undefined ? undefined : Records.idFromJson(shape.id)
    if (id === undefined) return invalid(line.number, null, 'no "id" (a non-empty string or a number)')
    const key = Records.idKey(id)
    const first = firstLine.get(key)
    if (first !== undefined) {
      return invalid(line.number, null, `duplicate id ${shorten(id.json)} (first on line ${first})`)
    }
    firstLine.set(key, line.number)

    const hasPrompt = fields.prompt !== undefined
    const hasMessages = fields.messages !== undefined
    if (hasPrompt === hasMessages) {
      return invalid(line.number, id, 'give exactly one of "prompt" (a string) or "messages" (an array)')
    }
    if (hasPrompt && (typeof fields.prompt !== "string" || fields.prompt.length === 0)) {
      return invalid(line.number, id, '"prompt" must be a non-empty string')
    }
    const priority = fields.priority
    if (priority !== undefined && (typeof priority !== "string" || !priorities.has(priority))) {
      return invalid(line.number, id, '"priority" must be one of "critical", "high", "normal", "low"')
    }

    const request: Record<string, unknown> = { model: defaults.model }
    for (const name of REQUEST_FIELDS) if (fields[name] !== undefined) request[name] = fields[name]
    request.messages = hasPrompt ? [{ role: "user", content: fields.prompt }] : fields.messages
    const decoded = GrokApi.decodeChatRequest(request)
    if (Either.isLeft(decoded))
      return invalid(line.number, id, shorten(`not a valid request: ${firstIssue(decoded.left)}`))
    return {
      _tag: "Call",
      line: line.number,
      id,
      key,
      request: decoded.right,
      priority: priority as RateLimiter.Priority | undefined
    }
  }
}

/**
 * The lines of the input file, read as they are consumed (a few dozen at a time).
 *
 * @since 0.1.0
 * @category constructors
 */
export const lines = (path: string): Stream.Stream<Line, UsageError> =>
  Stream.acquireRelease(
    Effect.try({
      try: () => Fs.openSync(path, "r"),
      catch: (error) => new UsageError({ message: `cannot read the input file: ${describe(error)}` })
    }),
    (fd) => Effect.sync(() => Fs.closeSync(fd))
  ).pipe(Stream.flatMap((fd) => Stream.fromIteratorSucceed(linesOf(fd, { maxLineBytes: MAX_LINE_BYTES }), 32)))
