/**
 * Schemas of the xAI chat completions wire format.
 *
 * Every struct keeps unknown fields (`onExcessProperty: "preserve"` on decode), so a field xAI adds tomorrow
 * reaches the caller instead of being dropped, and optional fields may be missing or `null`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { decoder } from "./internal/fastDecode.js"

/** Decode options for every schema here: keep what we do not model. */
const keepUnknown = { onExcessProperty: "preserve" } as const

const optionalNullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

/**
 * A tool call requested by the model.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  index: Schema.optional(Schema.Number),
  function: Schema.Struct({
    name: Schema.String,
    arguments: Schema.String
  })
})

/**
 * @since 0.1.0
 * @category models
 */
export type ToolCall = typeof ToolCall.Type

/**
 * One message of a conversation, as sent.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatMessage = Schema.Struct({
  role: Schema.Literal("system", "user", "assistant", "tool", "developer"),
  content: Schema.NullOr(Schema.Union(Schema.String, Schema.Array(Schema.Unknown))),
  name: Schema.optional(Schema.String),
  tool_call_id: Schema.optional(Schema.String),
  tool_calls: Schema.optional(Schema.Array(ToolCall))
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatMessage = typeof ChatMessage.Type

/**
 * A chat completions request. Fields beyond those listed pass through to xAI unchanged.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.nonEmptyString()),
    messages: Schema.Array(ChatMessage).pipe(Schema.minItems(1)),
    temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
    top_p: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
    max_completion_tokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
    max_tokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
    stream: Schema.optional(Schema.Boolean),
    stop: Schema.optional(Schema.Union(Schema.String, Schema.Array(Schema.String))),
    seed: Schema.optional(Schema.Int),
    tools: Schema.optional(Schema.Array(Schema.Unknown)),
    tool_choice: Schema.optional(Schema.Unknown),
    reasoning_effort: Schema.optional(Schema.String),
    user: Schema.optional(Schema.String)
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)

/**
 * @since 0.1.0
 * @category models
 */
export type ChatRequest = typeof ChatRequest.Type

/**
 * Token usage. `completion_tokens` excludes reasoning tokens while `total_tokens` includes them;
 * `cost_in_usd_ticks` counts 10^10 ticks per USD.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Usage = Schema.Struct({
  prompt_tokens: Schema.Number,
  completion_tokens: Schema.Number,
  total_tokens: Schema.Number,
  prompt_tokens_details: optionalNullable(
    Schema.Struct({
      text_tokens: Schema.optional(Schema.Number),
      audio_tokens: Schema.optional(Schema.Number),
      image_tokens: Schema.optional(Schema.Number),
      cached_tokens: Schema.optional(Schema.Number)
    })
  ),
  completion_tokens_details: optionalNullable(
    Schema.Struct({
      reasoning_tokens: Schema.optional(Schema.Number),
      audio_tokens: Schema.optional(Schema.Number),
      accepted_prediction_tokens: Schema.optional(Schema.Number),
      rejected_prediction_tokens: Schema.optional(Schema.Number)
    })
  ),
  num_sources_used: Schema.optional(Schema.Number),
  cost_in_usd_ticks: Schema.optional(Schema.Number)
})

/**
 * @since 0.1.0
 * @category models
 */
export type Usage = typeof Usage.Type

/**
 * Ticks per US dollar in `cost_in_usd_ticks`.
 *
 * @since 0.1.0
 * @category constants
 */
export const TICKS_PER_USD = 10_000_000_000

/**
 * The token counts a caller usually wants, with zero for what xAI did not report.
 *
 * @since 0.1.0
 * @category accessors
 */
export const usageSummary = (usage: Usage | undefined) => ({
  prompt: usage?.prompt_tokens ?? 0,
  completion: usage?.completion_tokens ?? 0,
  reasoning: usage?.completion_tokens_details?.reasoning_tokens ?? 0,
  cached: usage?.prompt_tokens_details?.cached_tokens ?? 0,
  total: usage?.total_tokens ?? 0,
  costUsd: (usage?.cost_in_usd_ticks ?? 0) / TICKS_PER_USD
})

/**
 * The assistant's message in a response.
 *
 * @since 0.1.0
 * @category schemas
 */
export const AssistantMessage = Schema.Struct({
  role: Schema.String,
  content: optionalNullable(Schema.String),
  reasoning_content: optionalNullable(Schema.String),
  refusal: optionalNullable(Schema.String),
  tool_calls: optionalNullable(Schema.Array(ToolCall))
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const Choice = Schema.Struct({
  index: Schema.Number,
  message: AssistantMessage,
  finish_reason: optionalNullable(Schema.String)
})

/**
 * A chat completion as xAI returns it.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletion = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.String),
  created: Schema.optional(Schema.Number),
  model: Schema.String,
  choices: Schema.Array(Choice),
  usage: optionalNullable(Usage),
  system_fingerprint: optionalNullable(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletion = typeof ChatCompletion.Type

/**
 * One chunk of a streamed completion (the JSON of one SSE `data:` line).
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletionChunk = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.String),
  created: Schema.optional(Schema.Number),
  model: Schema.String,
  choices: Schema.Array(
    Schema.Struct({
      index: Schema.Number,
      delta: Schema.Struct({
        role: Schema.optional(Schema.String),
        content: optionalNullable(Schema.String),
        reasoning_content: optionalNullable(Schema.String),
        tool_calls: optionalNullable(Schema.Array(Schema.Unknown))
      }),
      finish_reason: optionalNullable(Schema.String)
    })
  ),
  usage: optionalNullable(Usage),
  system_fingerprint: optionalNullable(Schema.String)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ChatCompletionChunk = typeof ChatCompletionChunk.Type

/**
 * A model listed by `GET /v1/models`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Model = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.String),
  created: Schema.optional(Schema.Number),
  owned_by: Schema.optional(Schema.String)
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const ModelList = Schema.Struct({
  object: Schema.optional(Schema.String),
  data: Schema.Array(Model)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ModelList = typeof ModelList.Type

/**
 * xAI's gRPC-style error body: `{"code": "Some resource has been exhausted", "error": "..."}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const CodeErrorBody = Schema.Struct({ code: Schema.String, error: Schema.String })

/**
 * The OpenAI-style error body: `{"error": {"message", "type", "code", "param"}}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const NestedErrorBody = Schema.Struct({
  error: Schema.Struct({
    message: Schema.String,
    type: optionalNullable(Schema.String),
    code: optionalNullable(Schema.Union(Schema.String, Schema.Number)),
    param: optionalNullable(Schema.String)
  })
})

/**
 * The bare error body: `{"error": "..."}`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const PlainErrorBody = Schema.Struct({ error: Schema.String })

/**
 * Any of the three error body shapes xAI is known to send.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ErrorBody = Schema.Union(CodeErrorBody, NestedErrorBody, PlainErrorBody)

/**
 * @since 0.1.0
 * @category models
 */
export type ErrorBody = typeof ErrorBody.Type

/**
 * An error body reduced to what classification reads.
 *
 * @since 0.1.0
 * @category models
 */
export interface ErrorDetail {
  readonly message: string
  readonly code?: string
  readonly type?: string
}

/**
 * Reads the message, code and type out of any of the three error shapes.
 *
 * @since 0.1.0
 * @category accessors
 */
export const errorDetail = (body: ErrorBody): ErrorDetail => {
  if (typeof body.error === "string") {
    return "code" in body && typeof body.code === "string"
      ? { message: body.error, code: body.code }
      : { message: body.error }
  }
  const { code, message, type } = body.error
  return {
    message,
    ...(code !== undefined && code !== null ? { code: String(code) } : {}),
    ...(type !== undefined && type !== null ? { type } : {})
  }
}

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeChatCompletion = decoder(ChatCompletion)

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeErrorBody = Schema.decodeUnknownOption(ErrorBody, keepUnknown)

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeModelList = Schema.decodeUnknownEither(ModelList, keepUnknown)

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeChatRequest = decoder(ChatRequest)

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeChatCompletionChunk = decoder(ChatCompletionChunk)

/**
 * Completion tokens assumed for a request that sets no `max_completion_tokens` / `max_tokens`.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_COMPLETION_ESTIMATE = 1024

const contentChars = (content: ChatMessage["content"]): number =>
  content === null ? 0 : typeof content === "string" ? content.length : JSON.stringify(content).length

/**
 * The tokens to reserve before sending: about four characters per prompt token, plus the completion budget
 * (`max_completion_tokens`, else `max_tokens`, else `DEFAULT_COMPLETION_ESTIMATE`). The reservation is settled
 * against `usage.total_tokens` when the answer arrives.
 *
 * @since 0.1.0
 * @category accessors
 */
export const estimateTokens = (request: ChatRequest): number => {
  const chars = request.messages.reduce((sum, message) => sum + contentChars(message.content), 0)
  const completion = request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_COMPLETION_ESTIMATE
  return Math.ceil(chars / 4) + request.messages.length * 4 + completion
}

/** The Responses API (`POST /v1/responses`) wire format; unknown fields pass through. @since 0.2.0 @category schemas */
export { OutputItem, Response, ResponseEvent, ResponseRequest, ResponseUsage } from "./internal/api/responses.js"
/** The event of one known `type`, as `isResponseEvent` narrows to. @since 0.2.0 @category models */
export type { ResponseEventOf } from "./internal/api/responses.js"
/** @since 0.2.0 @category decoding */
export { decodeResponse, decodeResponseEvent, decodeResponseRequest } from "./internal/api/responses.js"
/** Narrowing of events by type, the text of a response, and its token counts. @since 0.2.0 @category accessors */
export { isResponseEvent, responseText, responseUsageSummary } from "./internal/api/responses.js"
/** Batch API and deferred wire format: schemas, types, decoders. @since 0.2.0 @category schemas */
export * from "./internal/api/batches.js"
