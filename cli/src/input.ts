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
import { type Hash, KeyTable } from "./keyTable.js"
import { type Fault, type Line, linesOf } from "./lines.js"
import type { Api } from "./options.js"
import * as Records from "./records.js"
import * as ResponseInput from "./responseInput.js"

/**
 * One input line ready to send: a chat request, or with `--api responses` a Responses API request.
 *
 * @since 0.1.0
 * @category models
 */
export type Call = ChatCall | ResponsesCall

/**
 * @since 0.2.0
 * @category models
 */
export interface ChatCall extends CallLine {
  readonly api: "chat"
  readonly request: GrokApi.ChatRequest
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ResponsesCall extends CallLine {
  readonly api: "responses"
  readonly request: GrokApi.ResponseRequest
}

/**
 * What every call keeps of its line.
 *
 * @since 0.2.0
 * @category models
 */
export interface CallLine {
  readonly _tag: "Call"
  readonly line: number
  readonly id: Records.Id
  readonly key: string
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

const isPriority = (value: unknown): value is RateLimiter.Priority | undefined =>
  value === undefined || (typeof value === "string" && priorities.has(value))

const BAD_PRIORITY = '"priority" must be one of "critical", "high", "normal", "low"'

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

const invalid = (line: number, id: Records.Id | null, message: string): Invalid => ({
  _tag: "Invalid",
  line,
  key: id === null ? Records.lineKey(line) : Records.idKey(id),
  record: Records.invalid(id, line, `Line ${line}: ${message}`)
})

/** A line of `--api responses`: its request read by `ResponseInput`, its priority checked as for chat. */
const responsesCall = (
  model: string,
  line: number,
  id: Records.Id,
  key: string,
  fields: Record<string, unknown>
): Item => {
  const decoded = ResponseInput.request(fields, model)
  if (Either.isLeft(decoded)) {
    const problem = decoded.left
    return invalid(
      line,
      id,
      typeof problem === "string" ? problem : shorten(`not a valid request: ${firstIssue(problem)}`)
    )
  }
  const priority = fields.priority
  if (!isPriority(priority)) return invalid(line, id, BAD_PRIORITY)
  return { _tag: "Call", api: "responses", line, id, key, request: decoded.right, priority }
}

/** A line of `--api chat`: a prompt or messages, its fields copied into a chat request. */
const chatCall = (model: string, line: number, id: Records.Id, key: string, fields: Record<string, unknown>): Item => {
  const hasPrompt = fields.prompt !== undefined
  const hasMessages = fields.messages !== undefined
  if (hasPrompt === hasMessages) {
    const hint = !hasPrompt && fields.input !== undefined ? ' ("input" needs --api responses)' : ""
    return invalid(line, id, `give exactly one of "prompt" (a string) or "messages" (an array)${hint}`)
  }
  if (hasPrompt && (typeof fields.prompt !== "string" || fields.prompt.length === 0)) {
    return invalid(line, id, '"prompt" must be a non-empty string')
  }
  const priority = fields.priority
  if (!isPriority(priority)) return invalid(line, id, BAD_PRIORITY)

  const request: Record<string, unknown> = { model }
  for (const name of REQUEST_FIELDS) if (fields[name] !== undefined) request[name] = fields[name]
  request.messages = hasPrompt ? [{ role: "user", content: fields.prompt }] : fields.messages
  const decoded = GrokApi.decodeChatRequest(request)
  if (Either.isLeft(decoded)) return invalid(line, id, shorten(`not a valid request: ${firstIssue(decoded.left)}`))
  return {
    _tag: "Call",
    api: "chat",
    line,
    id,
    key,
    request: decoded.right,
    priority
  }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface ParserOptions {
  readonly model: string
  readonly api?: Api
  /**
   * Called with the key of each line (`Records.idKey` or `Records.lineKey`) before its request is built; a line it
   * returns true for (one the results file already holds) gives `undefined`, and its request is never decoded.
   */
  readonly skip?: (key: string) => boolean
  /** The hash of the table of ids seen (tests force collisions with it); FNV-1a by default. */
  readonly hash?: Hash
  /** How many lines the input has (the progress total), to size the table of ids seen once. */
  readonly expectedLines?: number
  /**
   * The table to note the ids seen in, each with the line it was first seen on as its value: the journal's
   * (`Journal.Journal.ids`), so that a resumed run holds each id once. Its tags are left alone. Without it the
   * parser has a table of its own, of `hash` and `expectedLines`.
   */
  readonly ids?: KeyTable
}

/**
 * A stateful parser for the lines of one run: it remembers the ids seen (and the line of each, in a `KeyTable`), so
 * that a repeated id becomes an error line without an id. Blank lines, and lines `skip` takes, give `undefined`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parser = (defaults: ParserOptions) => {
  // Values are first lines (from 1); 0 is an entry the journal added for an id not seen yet.
  const firstLine = defaults.ids ?? new KeyTable(defaults.hash, defaults.expectedLines)
  const skip = defaults.skip ?? (() => false)
  const refuse = (line: number, message: string): Invalid | undefined => {
    const item = invalid(line, null, message)
    return skip(item.key) ? undefined : item
  }

  return (line: Line): Item | undefined => {
    if (line.fault !== undefined) return refuse(line.number, describeFault(line, line.fault))
    if (line.text.trim() === "") return undefined
    const shape = JsonText.outline(line.text, JsonText.MAX_DEPTH)
    if (shape._tag === "TooDeep") {
      return refuse(line.number, `nests arrays and objects deeper than ${shape.limit} levels`)
    }
    let value: unknown
    try {
      value = JSON.parse(line.text)
    } catch (error) {
      return refuse(line.number, shorten(`not valid JSON (${describe(error)})`))
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return refuse(line.number, "not a JSON object")
    }
    const fields = value as Record<string, unknown>
    if (shape.idMembers > 1) return refuse(line.number, 'more than one "id" member')
    const id = shape.id === undefined ? undefined : Records.idFromJson(shape.id)
    if (id === undefined) return refuse(line.number, 'no "id" (a non-empty string or a number)')
    const key = Records.idKey(id)
    const entry = firstLine.add(key)
    const first = firstLine.valueAt(entry)
    if (first !== 0) return refuse(line.number, `duplicate id ${shorten(id.json)} (first on line ${first})`)
    firstLine.setValueAt(entry, line.number)
    if (skip(key)) return undefined
    return defaults.api === "responses"
      ? responsesCall(defaults.model, line.number, id, key, fields)
      : chatCall(defaults.model, line.number, id, key, fields)
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
