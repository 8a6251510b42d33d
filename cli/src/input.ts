/**
 * The input file: JSON lines streamed in constant memory, each turned into a chat call or into the error line
 * that stands for it. Ids are checked for presence and uniqueness as the lines go by.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import type { RateLimiter } from "grok-resilience"
import { GrokApi } from "grok-resilience"
import { describe, UsageError } from "./errors.js"
import { type Line, linesOf } from "./lines.js"
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
 * A stateful parser for the lines of one run: it remembers the ids seen (and the line of each), so that a repeated
 * id becomes an error line without an id. Blank lines give `undefined`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parser = (defaults: { readonly model: string; readonly api?: Api }) => {
  const firstLine = new Map<string, number>()

  const invalid = (line: number, id: Records.Id | null, message: string): Invalid => ({
    _tag: "Invalid",
    line,
    key: id === null ? Records.lineKey(line) : Records.idKey(id),
    record: Records.invalid(id, line, `Line ${line}: ${message}`)
  })

  /** A line of `--api responses`: its request read by `ResponseInput`, its priority checked as for chat. */
  const responsesCall = (line: number, id: Records.Id, key: string, fields: Record<string, unknown>): Item => {
    const decoded = ResponseInput.request(fields, defaults.model)
    if (Either.isLeft(decoded)) {
      const problem = decoded.left
      return invalid(
        line,
        id,
        typeof problem === "string" ? problem : shorten(`not a valid request: ${problem.message}`)
      )
    }
    const priority = fields.priority
    if (!isPriority(priority)) return invalid(line, id, BAD_PRIORITY)
    return { _tag: "Call", api: "responses", line, id, key, request: decoded.right, priority }
  }

  return (line: Line): Item | undefined => {
    if (line.text.trim() === "") return undefined
    let value: unknown
    try {
      value = JSON.parse(line.text)
    } catch (error) {
      return invalid(line.number, null, `not valid JSON (${describe(error)})`)
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return invalid(line.number, null, "not a JSON object")
    }
    const fields = value as Record<string, unknown>
    if (!Records.isId(fields.id)) {
      return invalid(line.number, null, 'no "id" (a non-empty string or a number)')
    }
    const id = fields.id
    const key = Records.idKey(id)
    const first = firstLine.get(key)
    if (first !== undefined) {
      return invalid(line.number, null, `duplicate id ${JSON.stringify(id)} (first on line ${first})`)
    }
    firstLine.set(key, line.number)
    if (defaults.api === "responses") return responsesCall(line.number, id, key, fields)

    const hasPrompt = fields.prompt !== undefined
    const hasMessages = fields.messages !== undefined
    if (hasPrompt === hasMessages) {
      const hint = !hasPrompt && fields.input !== undefined ? ' ("input" needs --api responses)' : ""
      return invalid(line.number, id, `give exactly one of "prompt" (a string) or "messages" (an array)${hint}`)
    }
    if (hasPrompt && (typeof fields.prompt !== "string" || fields.prompt.length === 0)) {
      return invalid(line.number, id, '"prompt" must be a non-empty string')
    }
    const priority = fields.priority
    if (!isPriority(priority)) return invalid(line.number, id, BAD_PRIORITY)

    const request: Record<string, unknown> = { model: defaults.model }
    for (const name of REQUEST_FIELDS) if (fields[name] !== undefined) request[name] = fields[name]
    request.messages = hasPrompt ? [{ role: "user", content: fields.prompt }] : fields.messages
    const decoded = GrokApi.decodeChatRequest(request)
    if (Either.isLeft(decoded)) return invalid(line.number, id, shorten(`not a valid request: ${decoded.left.message}`))
    return {
      _tag: "Call",
      api: "chat",
      line: line.number,
      id,
      key,
      request: decoded.right,
      priority
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
  ).pipe(Stream.flatMap((fd) => Stream.fromIteratorSucceed(linesOf(fd), 32)))
