/**
 * Input lines of `--api responses`: the request of the Responses API (`POST /v1/responses`) a line asks for. A line
 * gives `input` (a string or a list of input items) and may give `instructions`; `prompt` and `messages` are read
 * as for chat, so one input file serves both APIs.
 *
 * @since 0.2.0
 */
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import { GrokApi } from "grok-resilience"

/**
 * Request fields copied from an input line to a Responses API request; any other field stays local.
 *
 * @since 0.2.0
 * @category constants
 */
export const RESPONSE_FIELDS: ReadonlyArray<string> = [
  "model",
  "instructions",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "previous_response_id",
  "store",
  "include",
  "reasoning",
  "max_output_tokens",
  "temperature",
  "top_p",
  "text",
  "user"
]

/** What each way of giving the input accepts, and how to say so when a line gives something else. */
const BODIES = {
  input: {
    accepts: (value: unknown) => (typeof value === "string" && value.length > 0) || Array.isArray(value),
    expected: '"input" must be a non-empty string or an array of input items'
  },
  prompt: {
    accepts: (value: unknown) => typeof value === "string" && value.length > 0,
    expected: '"prompt" must be a non-empty string'
  },
  messages: {
    accepts: (value: unknown) => Array.isArray(value),
    expected: '"messages" must be an array'
  }
} as const

/**
 * The request of one line, or why there is none: a sentence for a missing, doubled or mistyped input, the
 * schema's error for a request that does not decode.
 *
 * @since 0.2.0
 * @category decoding
 */
export const request = (
  fields: Readonly<Record<string, unknown>>,
  model: string
): Either.Either<GrokApi.ResponseRequest, string | ParseResult.ParseError> => {
  const given = (["input", "prompt", "messages"] as const).filter((name) => fields[name] !== undefined)
  if (given.length !== 1) {
    return Either.left('give exactly one of "input" (a string or a list of items), "prompt" or "messages"')
  }
  const body = BODIES[given[0]!]
  const value = fields[given[0]!]
  if (!body.accepts(value)) return Either.left(body.expected)
  const candidate: Record<string, unknown> = { model }
  for (const name of RESPONSE_FIELDS) if (fields[name] !== undefined) candidate[name] = fields[name]
  // A prompt is the input as a string; chat messages are input messages of the same shape.
  candidate.input = value
  return GrokApi.decodeResponseRequest(candidate)
}
