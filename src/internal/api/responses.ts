/**
 * Schemas of xAI's Responses API (`POST /v1/responses`): the request, the response object, its usage with xAI's
 * extra fields, and the streamed events. Every struct keeps fields it does not name, so what xAI adds tomorrow
 * reaches the caller; only the fields this toolkit reads are required.
 */
import * as Schema from "effect/Schema"

const keepUnknown = { onExcessProperty: "preserve" } as const
const rest = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const optionalNullable = <S extends Schema.Schema.Any>(schema: S) => Schema.optional(Schema.NullOr(schema))

/** A `type` string outside `known`: the catch-all member of a union must not swallow a malformed known member. */
const otherType = (known: ReadonlyArray<string>) => {
  const set: ReadonlySet<string> = new Set(known)
  return Schema.String.pipe(Schema.filter((type) => !set.has(type), { message: () => "a known type, malformed" }))
}

// ---------------------------------------------------------------------------------------------------------------
// Request

/** A message of the conversation; `content` is a string or a list of parts (`input_text`, `input_image`, …). */
export const InputMessage = Schema.Struct(
  {
    type: Schema.optional(Schema.Literal("message")),
    role: Schema.Literal("system", "developer", "user", "assistant"),
    content: Schema.Union(Schema.String, Schema.Array(Schema.Struct({ type: Schema.String }, rest)))
  },
  rest
)

/** Any other input item (`function_call_output`, `reasoning`, an earlier `function_call`, …), passed through. */
export const InputItem = Schema.Union(InputMessage, Schema.Struct({ type: otherType(["message"]) }, rest))

/** A function the model may call; `parameters` is its JSON Schema. */
export const FunctionTool = Schema.Struct(
  {
    type: Schema.Literal("function"),
    name: Schema.String.pipe(Schema.nonEmptyString()),
    description: Schema.optional(Schema.String),
    parameters: Schema.optional(Schema.Unknown),
    strict: Schema.optional(Schema.Boolean)
  },
  rest
)

/** A tool xAI runs itself (`web_search`, `x_search`, `code_interpreter`, `file_search`, `mcp`, …), passed through. */
export const ServerSideTool = Schema.Struct({ type: otherType(["function"]) }, rest)

export const ResponseTool = Schema.Union(FunctionTool, ServerSideTool)

/** `text.format`: plain text, any JSON object, or JSON that follows a schema. */
export const TextFormat = Schema.Union(
  Schema.Struct({ type: Schema.Literal("text") }, rest),
  Schema.Struct({ type: Schema.Literal("json_object") }, rest),
  Schema.Struct(
    {
      type: Schema.Literal("json_schema"),
      name: Schema.optional(Schema.String),
      schema: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
      strict: Schema.optional(Schema.Boolean)
    },
    rest
  )
)

/** A Responses API request. Fields beyond those listed pass through to xAI unchanged. */
export const ResponseRequest = Schema.Struct(
  {
    model: Schema.String.pipe(Schema.nonEmptyString()),
    input: Schema.Union(Schema.String, Schema.Array(InputItem)),
    instructions: Schema.optional(Schema.String),
    tools: Schema.optional(Schema.Array(ResponseTool)),
    tool_choice: Schema.optional(Schema.Unknown),
    parallel_tool_calls: Schema.optional(Schema.Boolean),
    previous_response_id: Schema.optional(Schema.String),
    store: Schema.optional(Schema.Boolean),
    include: Schema.optional(Schema.Array(Schema.String)),
    reasoning: Schema.optional(
      Schema.Struct({ effort: optionalNullable(Schema.String), summary: optionalNullable(Schema.String) }, rest)
    ),
    max_output_tokens: Schema.optional(Schema.Int.pipe(Schema.positive())),
    temperature: Schema.optional(Schema.Number.pipe(Schema.between(0, 2))),
    top_p: Schema.optional(Schema.Number.pipe(Schema.between(0, 1))),
    text: Schema.optional(Schema.Struct({ format: Schema.optional(TextFormat) }, rest)),
    stream: Schema.optional(Schema.Boolean),
    user: Schema.optional(Schema.String)
  },
  rest
)
export type ResponseRequest = typeof ResponseRequest.Type

// ---------------------------------------------------------------------------------------------------------------
// Response

/**
 * Token usage. Unlike chat completions, `output_tokens` includes `reasoning_tokens`. `cost_in_usd_ticks` counts
 * 10^10 ticks per USD; `server_side_tool_usage_details` counts calls per server-side tool (`web_search_calls`, …).
 */
export const ResponseUsage = Schema.Struct({
  input_tokens: Schema.Number,
  output_tokens: Schema.Number,
  total_tokens: Schema.optional(Schema.Number),
  input_tokens_details: optionalNullable(Schema.Struct({ cached_tokens: Schema.optional(Schema.Number) })),
  output_tokens_details: optionalNullable(Schema.Struct({ reasoning_tokens: Schema.optional(Schema.Number) })),
  num_sources_used: Schema.optional(Schema.Number),
  num_server_side_tools_used: Schema.optional(Schema.Number),
  cost_in_usd_ticks: Schema.optional(Schema.Number),
  server_side_tool_usage_details: optionalNullable(Schema.Record({ key: Schema.String, value: Schema.Number }))
})
export type ResponseUsage = typeof ResponseUsage.Type

/** A citation or other note on a span of output text. */
export const Annotation = Schema.Struct(
  {
    type: Schema.String,
    url: Schema.optional(Schema.String),
    title: Schema.optional(Schema.String),
    start_index: Schema.optional(Schema.Number),
    end_index: Schema.optional(Schema.Number)
  },
  rest
)

export const OutputText = Schema.Struct(
  {
    type: Schema.Literal("output_text"),
    text: Schema.String,
    annotations: Schema.optional(Schema.Array(Annotation)),
    logprobs: optionalNullable(Schema.Array(Schema.Unknown))
  },
  rest
)
export type OutputText = typeof OutputText.Type

/** A part of a message: `output_text`, or another kind (`refusal`, …) passed through. */
export const ContentPart = Schema.Union(OutputText, Schema.Struct({ type: otherType(["output_text"]) }, rest))

export const MessageItem = Schema.Struct(
  {
    type: Schema.Literal("message"),
    id: Schema.optional(Schema.String),
    role: Schema.String,
    status: Schema.optional(Schema.String),
    content: Schema.Array(ContentPart)
  },
  rest
)
export type MessageItem = typeof MessageItem.Type

export const ReasoningItem = Schema.Struct(
  {
    type: Schema.Literal("reasoning"),
    id: Schema.optional(Schema.String),
    summary: Schema.Array(Schema.Struct({ type: Schema.String, text: Schema.String }, rest)),
    status: Schema.optional(Schema.String),
    encrypted_content: optionalNullable(Schema.String)
  },
  rest
)

/** A call of one of the caller's function tools, to run and answer with a `function_call_output` item. */
export const FunctionCallItem = Schema.Struct(
  {
    type: Schema.Literal("function_call"),
    id: Schema.optional(Schema.String),
    call_id: Schema.String,
    name: Schema.String,
    arguments: Schema.String,
    status: Schema.optional(Schema.String)
  },
  rest
)

const knownItems = ["message", "reasoning", "function_call"]

/**
 * Any other output item, such as a server-side tool call xAI ran (`web_search_call`, `x_search_call`,
 * `custom_tool_call`, `code_interpreter_call`, …), passed through with its fields.
 */
export const OtherItem = Schema.Struct({ type: otherType(knownItems), id: Schema.optional(Schema.String) }, rest)

export const OutputItem = Schema.Union(MessageItem, ReasoningItem, FunctionCallItem, OtherItem)
export type OutputItem = typeof OutputItem.Type

/** The error of a failed response, `{ code, message }`. */
export const ResponseErrorObject = Schema.Struct(
  { code: optionalNullable(Schema.Union(Schema.String, Schema.Number)), message: Schema.String },
  rest
)

/**
 * A response object: the answer of `POST /v1/responses` and `GET /v1/responses/{id}`, and the `response` of the
 * lifecycle events. `status` is `completed`, `incomplete` (see `incomplete_details.reason`), `failed`,
 * `in_progress`, … and kept as a string so a new status decodes.
 */
export const Response = Schema.Struct({
  id: Schema.String,
  object: Schema.optional(Schema.String),
  created_at: Schema.optional(Schema.Number),
  model: Schema.String,
  status: Schema.String,
  output: Schema.Array(OutputItem),
  usage: optionalNullable(ResponseUsage),
  error: optionalNullable(ResponseErrorObject),
  incomplete_details: optionalNullable(Schema.Struct({ reason: optionalNullable(Schema.String) }, rest)),
  previous_response_id: optionalNullable(Schema.String),
  instructions: optionalNullable(Schema.Unknown),
  max_output_tokens: optionalNullable(Schema.Number),
  store: optionalNullable(Schema.Boolean)
})
export type Response = typeof Response.Type

// ---------------------------------------------------------------------------------------------------------------
// Events

const sequence = { sequence_number: Schema.optional(Schema.Number) }
const where = { item_id: Schema.optional(Schema.String), output_index: Schema.optional(Schema.Number) }

const lifecycle = <T extends string>(type: T) =>
  Schema.Struct({ type: Schema.Literal(type), ...sequence, response: Response }, rest)
const itemEvent = <T extends string>(type: T) =>
  Schema.Struct(
    { type: Schema.Literal(type), ...sequence, output_index: Schema.optional(Schema.Number), item: OutputItem },
    rest
  )
const deltaEvent = <T extends string>(type: T) =>
  Schema.Struct({ type: Schema.Literal(type), ...sequence, ...where, delta: Schema.String }, rest)
const textDone = <T extends string>(type: T) =>
  Schema.Struct({ type: Schema.Literal(type), ...sequence, ...where, text: Schema.String }, rest)

export const ErrorEvent = Schema.Struct(
  {
    type: Schema.Literal("error"),
    ...sequence,
    code: optionalNullable(Schema.Union(Schema.String, Schema.Number)),
    message: optionalNullable(Schema.String),
    param: optionalNullable(Schema.String)
  },
  rest
)

const KnownResponseEvent = Schema.Union(
  lifecycle("response.created"),
  lifecycle("response.queued"),
  lifecycle("response.in_progress"),
  lifecycle("response.completed"),
  lifecycle("response.done"),
  lifecycle("response.incomplete"),
  lifecycle("response.failed"),
  itemEvent("response.output_item.added"),
  itemEvent("response.output_item.done"),
  deltaEvent("response.output_text.delta"),
  textDone("response.output_text.done"),
  deltaEvent("response.reasoning_summary_text.delta"),
  textDone("response.reasoning_summary_text.done"),
  deltaEvent("response.reasoning_text.delta"),
  textDone("response.reasoning_text.done"),
  deltaEvent("response.function_call_arguments.delta"),
  Schema.Struct(
    { type: Schema.Literal("response.function_call_arguments.done"), ...sequence, ...where, arguments: Schema.String },
    rest
  ),
  ErrorEvent
)
export type KnownResponseEvent = typeof KnownResponseEvent.Type
export type KnownResponseEventType = KnownResponseEvent["type"]

const knownEventTypes: ReadonlyArray<string> = KnownResponseEvent.members.map(
  (member) => member.fields.type.literals[0]
)

/** Any other event (`response.content_part.added`, `response.web_search_call.searching`, …), passed through. */
export const OtherResponseEvent = Schema.Struct({ type: otherType(knownEventTypes), ...sequence }, rest)
export type OtherResponseEvent = typeof OtherResponseEvent.Type

/** One event of a streamed response, as xAI sends it; unknown types pass through with their fields. */
export const ResponseEvent = Schema.Union(KnownResponseEvent, OtherResponseEvent)
export type ResponseEvent = typeof ResponseEvent.Type

/** The event of a known `type`, for narrowing (an unknown event's `type` is any string, so `===` alone cannot). */
export type ResponseEventOf<T extends KnownResponseEventType> = Extract<KnownResponseEvent, { readonly type: T }>

export const isResponseEvent =
  <T extends KnownResponseEventType>(type: T) =>
  (event: ResponseEvent): event is ResponseEventOf<T> =>
    event.type === type

/** Events that end a stream as a success: the response is whole, or stopped by a limit such as max_output_tokens. */
export const terminalTypes: ReadonlySet<string> = new Set([
  "response.completed",
  "response.done",
  "response.incomplete"
])

export const decodeResponseRequest = Schema.decodeUnknownEither(ResponseRequest, keepUnknown)
export const decodeResponse = Schema.decodeUnknownEither(Response, keepUnknown)
export const decodeResponseEvent = Schema.decodeUnknownEither(ResponseEvent, keepUnknown)

/** An output item of type `message` (no other member of the union has that `type`). */
export const isMessageItem = (item: OutputItem): item is MessageItem => item.type === "message"

type ContentPart = typeof ContentPart.Type
const isOutputText = (part: ContentPart): part is OutputText => part.type === "output_text"

/** All `output_text` of all messages, joined in order: the text a caller usually wants. */
export const responseText = (response: Response): string =>
  response.output
    .filter(isMessageItem)
    .flatMap((item) => item.content.filter(isOutputText).map((part) => part.text))
    .join("")

/**
 * The token counts a caller usually wants, named as for chat: `completion` excludes reasoning tokens (as xAI's
 * chat `completion_tokens` does), `total` is `total_tokens` or input + output.
 */
export const responseUsageSummary = (usage: ResponseUsage | null | undefined) => {
  const reasoning = usage?.output_tokens_details?.reasoning_tokens ?? 0
  const prompt = usage?.input_tokens ?? 0
  const output = usage?.output_tokens ?? 0
  return {
    prompt,
    completion: Math.max(0, output - reasoning),
    reasoning,
    cached: usage?.input_tokens_details?.cached_tokens ?? 0,
    total: usage?.total_tokens ?? prompt + output,
    costUsd: (usage?.cost_in_usd_ticks ?? 0) / 10_000_000_000,
    serverSideTools: usage?.num_server_side_tools_used ?? 0
  }
}
