/**
 * `POST /v1/responses` of the fake: reading the request (`input` as a string or items, `instructions`), and the
 * response object or its SSE events, shaped like the recorded xAI fixtures (`response.created` …
 * `response.output_text.delta` … `response.completed`, with reasoning summary events when there is reasoning).
 */
import * as Errors from "./Errors.js"
import type { Frames, Generation, Ids, Rendered, Tokens } from "./Generation.js"
import { answerText, capOf, countTokens, pieces, REASONING_TEXT, textOf } from "./Generation.js"

interface Request {
  readonly model: string
  readonly instructions: string | null
  readonly store: boolean
  readonly previousResponseId: string | null
  readonly maxOutputTokens: number | null
  readonly tools: ReadonlyArray<unknown>
}

const usageOf = (tokens: Tokens) => ({
  input_tokens: tokens.prompt,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: tokens.completion + tokens.reasoning,
  output_tokens_details: { reasoning_tokens: tokens.reasoning },
  total_tokens: tokens.total,
  num_sources_used: 0,
  num_server_side_tools_used: 0,
  cost_in_usd_ticks: tokens.costTicks
})

const reasoningItem = (id: string, text: string, status: string) => ({
  id: `rs_${id}`,
  summary: text === "" ? [] : [{ text, type: "summary_text" }],
  type: "reasoning",
  status
})

const outputText = (text: string) => ({ type: "output_text", text, logprobs: [], annotations: [] })

const messageItem = (id: string, text: string | undefined, status: string) => ({
  content: text === undefined ? [] : [outputText(text)],
  id: `msg_${id}`,
  role: "assistant",
  type: "message",
  status
})

const responseObject = (
  id: string,
  created: number,
  request: Request,
  state: { readonly status: string; readonly output: ReadonlyArray<unknown>; readonly usage?: unknown }
) => ({
  created_at: created,
  id,
  max_output_tokens: request.maxOutputTokens,
  model: request.model,
  object: "response",
  output: state.output,
  parallel_tool_calls: true,
  previous_response_id: request.previousResponseId,
  reasoning: { effort: null, summary: null },
  temperature: null,
  text: { format: { type: "text" } },
  tool_choice: "auto",
  tools: request.tools,
  top_p: null,
  ...(state.usage !== undefined ? { usage: state.usage } : {}),
  user: null,
  incomplete_details: null,
  status: state.status,
  store: request.store,
  metadata: {}
})

const completedOutput = (id: string, text: string, tokens: Tokens) => [
  ...(tokens.reasoning > 0 ? [reasoningItem(id, REASONING_TEXT, "completed")] : []),
  messageItem(id, text, "completed")
]

/** The payloads of the reasoning item's events, when the answer has reasoning. */
const reasoningEvents = (id: string): ReadonlyArray<Record<string, unknown>> => {
  const item = { item_id: `rs_${id}`, output_index: 0, summary_index: 0 }
  return [
    { type: "response.output_item.added", item: reasoningItem(id, "", "in_progress"), output_index: 0 },
    { type: "response.reasoning_summary_part.added", ...item, part: { text: "", type: "summary_text" } },
    ...pieces(REASONING_TEXT).map((delta) => ({ type: "response.reasoning_summary_text.delta", delta, ...item })),
    { type: "response.reasoning_summary_text.done", ...item, text: REASONING_TEXT },
    { type: "response.reasoning_summary_part.done", ...item, part: { text: REASONING_TEXT, type: "summary_text" } },
    { type: "response.output_item.done", item: reasoningItem(id, REASONING_TEXT, "completed"), output_index: 0 }
  ]
}

/** The payloads of the message item's events. */
const messageEvents = (id: string, text: string, outputIndex: number): ReadonlyArray<Record<string, unknown>> => {
  const part = { content_index: 0, item_id: `msg_${id}`, output_index: outputIndex }
  return [
    { type: "response.output_item.added", item: messageItem(id, undefined, "in_progress"), output_index: outputIndex },
    { type: "response.content_part.added", ...part, part: outputText("") },
    ...pieces(text).map((delta) => ({ type: "response.output_text.delta", ...part, delta, logprobs: [] })),
    { type: "response.output_text.done", ...part, text },
    { type: "response.content_part.done", ...part, part: outputText(text) },
    { type: "response.output_item.done", item: messageItem(id, text, "completed"), output_index: outputIndex }
  ]
}

const frame = (sequence: number, payload: Record<string, unknown>) =>
  `event: ${String(payload.type)}\ndata: ${JSON.stringify({ sequence_number: sequence, ...payload })}\n\n`

const eventFrames = (id: string, created: number, request: Request, text: string, tokens: Tokens): Frames => {
  const inProgress = responseObject(id, created, request, { status: "in_progress", output: [] })
  const completed = responseObject(id, created, request, {
    status: "completed",
    output: completedOutput(id, text, tokens),
    usage: usageOf(tokens)
  })
  const payloads = [
    { type: "response.created", response: inProgress },
    { type: "response.in_progress", response: inProgress },
    ...(tokens.reasoning > 0 ? reasoningEvents(id) : []),
    ...messageEvents(id, text, tokens.reasoning > 0 ? 1 : 0),
    { type: "response.completed", response: completed }
  ]
  return {
    frames: payloads.map((payload, i) => frame(i, payload)),
    breakable: payloads.length - 1,
    errorFrame: (sent) => frame(sent, Errors.responsesStreamError)
  }
}

/** The text of an input: the string itself, or the last user item's content; `characters` counts every item. */
const readInput = (input: unknown): { readonly prompt: string; readonly characters: number } | string => {
  if (typeof input === "string") return { prompt: input, characters: input.length }
  if (!Array.isArray(input) || input.length === 0) return "Missing required field: input (a string or items)."
  let prompt = ""
  let characters = 0
  for (const item of input) {
    if (typeof item !== "object" || item === null) return "Each input item must be an object."
    const record = item as Record<string, unknown>
    const text = textOf(record.content ?? record.output)
    characters += text.length
    if (record.role === "user") prompt = text
  }
  return { prompt, characters }
}

/** Reads a parsed Responses request, or says what is wrong with it. */
export const read = (body: unknown, reasoningTokens: number): Generation | string => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "The request body must be a JSON object."
  const record = body as Record<string, unknown>
  if (typeof record.model !== "string" || record.model === "") return "Missing required field: model."
  const input = readInput(record.input)
  if (typeof input === "string") return input
  const instructions = typeof record.instructions === "string" ? record.instructions : null
  const maxOutputTokens = capOf(record.max_output_tokens)
  const request: Request = {
    model: record.model,
    instructions,
    store: record.store !== false,
    previousResponseId: typeof record.previous_response_id === "string" ? record.previous_response_id : null,
    maxOutputTokens: maxOutputTokens ?? null,
    tools: Array.isArray(record.tools) ? record.tools : []
  }
  const text = answerText(input.prompt)
  const characters = input.characters + (instructions?.length ?? 0)
  const tokens = countTokens({ model: request.model, characters, answer: text, maxOutputTokens, reasoningTokens })
  return {
    model: request.model,
    prompt: input.prompt,
    stream: record.stream === true,
    tokens,
    render: (ids: Ids): Rendered => {
      const id = ids.next()
      const response = responseObject(id, ids.createdSeconds, request, {
        status: "completed",
        output: completedOutput(id, text, tokens),
        usage: usageOf(tokens)
      })
      return {
        json: response,
        frames: () => eventFrames(id, ids.createdSeconds, request, text, tokens),
        ...(request.store ? { stored: { id, response } } : {})
      }
    }
  }
}

/** The answer to `DELETE /v1/responses/{id}` for a response that existed. */
export const deleted = (id: string) => ({ id, object: "response", deleted: true })
