/**
 * `POST /v1/chat/completions` of the fake: reading the request, and the completion or its SSE chunks, shaped like
 * the recorded xAI fixtures (`chat.completion`, `chat.completion.chunk`, usage in the last chunk, `[DONE]`).
 */
import * as Errors from "./Errors.js"
import type { Generation, Ids, Rendered, Tokens } from "./Generation.js"
import { answerText, capOf, countTokens, pieces, REASONING_TEXT, textOf } from "./Generation.js"

const FINGERPRINT = "fp_fakegrok01"

const usageOf = (tokens: Tokens) => ({
  prompt_tokens: tokens.prompt,
  completion_tokens: tokens.completion,
  total_tokens: tokens.total,
  prompt_tokens_details: { text_tokens: tokens.prompt, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 },
  completion_tokens_details: {
    reasoning_tokens: tokens.reasoning,
    audio_tokens: 0,
    accepted_prediction_tokens: 0,
    rejected_prediction_tokens: 0
  },
  num_sources_used: 0,
  cost_in_usd_ticks: tokens.costTicks
})

const completionBody = (id: string, created: number, model: string, content: string, tokens: Tokens) => ({
  id,
  object: "chat.completion",
  created,
  model,
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content,
        reasoning_content: tokens.reasoning > 0 ? REASONING_TEXT : null,
        refusal: null
      },
      finish_reason: "stop"
    }
  ],
  usage: usageOf(tokens),
  system_fingerprint: FINGERPRINT
})

const data = (payload: unknown) => `data: ${JSON.stringify(payload)}\n\n`

/** The chunks of the answer: reasoning first when there is any, the text word by word, finish, usage, `[DONE]`. */
const chunkFrames = (id: string, created: number, model: string, content: string, tokens: Tokens) => {
  const chunk = (choices: ReadonlyArray<unknown>, extra: Record<string, unknown> = {}) =>
    data({ id, object: "chat.completion.chunk", created, model, choices, ...extra, system_fingerprint: FINGERPRINT })
  const deltas: Array<Record<string, unknown>> = []
  if (tokens.reasoning > 0) deltas.push({ reasoning_content: REASONING_TEXT })
  for (const piece of pieces(content)) deltas.push({ content: piece })
  const text = deltas.map((delta, i) => chunk([{ index: 0, delta: i === 0 ? { ...delta, role: "assistant" } : delta }]))
  return {
    frames: [
      ...text,
      chunk([{ index: 0, delta: {}, finish_reason: "stop" }]),
      chunk([], { usage: usageOf(tokens) }),
      "data: [DONE]\n\n"
    ],
    breakable: text.length,
    errorFrame: () => data(Errors.streamError)
  }
}

/** Reads a parsed chat request, or says what is wrong with it. */
export const read = (body: unknown, reasoningTokens: number): Generation | string => {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "The request body must be a JSON object."
  const request = body as Record<string, unknown>
  if (typeof request.model !== "string" || request.model === "") return "Missing required field: model."
  const model = request.model
  const messages = request.messages
  if (!Array.isArray(messages) || messages.length === 0) return "Missing required field: messages (at least one)."
  let characters = 0
  let prompt = ""
  for (const message of messages) {
    if (typeof message !== "object" || message === null) return "Each message must be an object."
    const text = textOf((message as Record<string, unknown>).content)
    characters += text.length
    if ((message as Record<string, unknown>).role === "user") prompt = text
  }
  const content = answerText(prompt)
  const maxOutputTokens = capOf(request.max_completion_tokens, request.max_tokens)
  const tokens = countTokens({ model, characters, answer: content, maxOutputTokens, reasoningTokens })
  const deferred = request.deferred === true
  return {
    model,
    prompt,
    stream: request.stream === true && !deferred,
    tokens,
    render: (ids: Ids): Rendered => {
      const id = ids.next()
      const completion = completionBody(id, ids.createdSeconds, model, content, tokens)
      return {
        json: deferred ? { request_id: id } : completion,
        frames: () => chunkFrames(id, ids.createdSeconds, model, content, tokens),
        ...(deferred ? { deferred: { id, completion } } : {})
      }
    }
  }
}

/** The `/v1/models` list. */
export const modelList = (models: ReadonlyArray<string>) => ({
  object: "list",
  data: models.map((id) => ({ id, object: "model", created: 1_735_689_600, owned_by: "xai" }))
})
